/* The salesbot chat, framed by /widget.js on a store's page: it talks to the API with the store's public site key
   and to the page that framed it only by postMessage, to that page's origin alone. Every text is shown as text. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("salesbot-config").textContent);
  var T = cfg.strings;
  var HOST = cfg.origin;
  var STREAM_FAILURES_BEFORE_POLLING = 3;
  var POLL_MS = 3000;
  var $ = function (selector) { return document.querySelector(selector); };
  var log = $(".log"), notice = $(".notice"), typing = $(".typing"), replies = $(".replies");
  var form = $(".compose"), input = $("textarea");

  var visitor = { visitor_id: null, identity: null, page: {} };
  var conv = null;        // {id, token, seq, status}: the conversation shown
  var begun = false;      // a conversation is being started or resumed
  var attempt = 0;        // which start or resume is current: a late answer to an older one is ignored
  var polls = 0;
  var following = null;   // the open stream's AbortController
  var failures = 0, poller = null, generation = 0;
  var pending = [];       // the visitor's lines sent but not yet read back: [{text, node}]

  document.documentElement.style.setProperty("--accent", cfg.colour);

  // -- the page that framed us ------------------------------------------------------------------------------
  function tell(type, data) {
    window.parent.postMessage({ salesbot: true, type: type, data: data || null }, HOST);
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || event.origin !== HOST || !event.data || !event.data.salesbot) return;
    var data = event.data.data || {};
    switch (event.data.type) {
      case "init":
        visitor.visitor_id = data.visitor_id;
        visitor.identity = data.identity || null;
        visitor.page = data.page || {};
        visitor.saved = data.conversation || null;
        if (data.open) { begin(); input.focus(); }
        break;
      case "identify": visitor.identity = data; visitor.refused = false; break;
      case "page": visitor.page = data || {}; break;
      case "open": begin(); setTimeout(function () { input.focus(); }, 0); break;
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") tell("close");
  });
  document.querySelector(".bar").addEventListener("click", function (event) {
    var action = event.target.closest("button") && event.target.closest("button").dataset.action;
    if (action === "close") tell("close");
    if (action === "new") restart();
    if (action === "end") end();
  });

  // -- the API ----------------------------------------------------------------------------------------------
  function call(method, path, body, headers) {
    var sent = { Authorization: "Bearer " + cfg.key };
    if (conv && conv.token) sent["X-Conversation-Token"] = conv.token;
    if (body !== undefined) sent["Content-Type"] = "application/json";
    Object.keys(headers || {}).forEach(function (name) { sent[name] = headers[name]; });
    return fetch(path, { method: method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body) })
      .catch(function () { throw { status: 0 }; })
      .then(function (response) {
        if (response.ok) return response.status === 204 ? null : response.json();
        return response.json().catch(function () { return {}; }).then(function (problem) {
          throw { status: response.status, problem: problem };
        });
      });
  }

  // The conversation is kept by the loader, in the store's own storage: a browser that blocks third-party storage
  // (this frame's, on another site than the store's) still resumes it after a reload.
  function remember() {
    visitor.saved = conv ? { id: conv.id, token: conv.token, seq: conv.seq, customer_id: conv.customer } : null;
    tell("remember", visitor.saved);
  }

  function recalled() { return visitor.saved; }

  // -- starting, resuming, ending ---------------------------------------------------------------------------
  function begin() {
    if (begun) return;
    begun = true;
    var saved = recalled(), mine = ++attempt;
    (saved && saved.id && saved.token ? resume(saved, mine) : start(mine)).then(offline(false), function (error) {
      if (mine !== attempt) return;
      begun = false;
      if (error && error.status === 0) offline(true)();
      else show(T.offline);
    });
  }

  function start(mine) {
    var body = { visitor_id: visitor.visitor_id, channel: "web", page: pageFacts() };
    var identity = visitor.identity;
    if (identity && identity.customer_id) body.customer_id = identity.customer_id;
    var headers = identity && identity.hash ? { "X-Customer-Hash": identity.hash } : {};
    return call("POST", "/v1/conversations", body, headers).catch(function (error) {
      if (error.status !== 403 || !body.customer_id) throw error;
      visitor.refused = true;
      tell("identity_refused", { customer_id: body.customer_id });  // a wrong hash: go on as an anonymous visitor
      delete body.customer_id;
      return call("POST", "/v1/conversations", body);
    }).then(function (started) {
      if (mine !== attempt) return;  // the visitor started over meanwhile
      conv = { id: started.conversation_id, token: started.conversation_token, seq: 0, status: "open",
               customer: body.customer_id || null };
      remember();
      tell("conversation", { conversation_id: conv.id });
      return catchUp().then(follow);
    });
  }

  function resume(saved, mine) {
    conv = { id: saved.id, token: saved.token, seq: 0, status: "open", customer: saved.customer_id || null };
    var resumed = conv;
    return call("GET", "/v1/conversations/" + encodeURIComponent(conv.id)).then(function (transcript) {
      if (conv !== resumed) return;
      conv.status = transcript.status;
      conv.rated = transcript.csat !== null;
      return catchUp().then(function () {
        if (conv !== resumed) return;
        if (conv.status === "closed") closed();
        else follow();
      });
    }, function (error) {
      if (error.status !== 403 && error.status !== 404) throw error;
      conv = null;  // gone or not ours any more: a new one
      remember();
      return start(mine);
    });
  }

  function restart() {
    stopFollowing();
    conv = null;
    remember();
    log.textContent = "";
    replies.textContent = "";
    pending = [];
    notice.hidden = true;
    form.hidden = false;
    begun = false;
    begin();
  }

  function end() {
    if (!conv || conv.status === "closed") return;
    var ending = conv;
    call("POST", "/v1/conversations/" + encodeURIComponent(conv.id) + "/close").then(function () {
      if (conv === ending) closed();
    }, failedWith);
  }

  function pageFacts() {
    var page = { locale: cfg.locale, url: String(visitor.page.url || "").slice(0, 2000) };
    if (Array.isArray(visitor.page.item_ids)) page.item_ids = visitor.page.item_ids.slice(0, 50).map(String);
    if (visitor.page.category) page.category = String(visitor.page.category).slice(0, 200);
    return page;
  }

  // -- lines: read back after each turn, and live through the stream -----------------------------------------
  function catchUp() {
    if (!conv) return Promise.resolve();
    var asked = conv.id;
    return call("GET", "/v1/conversations/" + encodeURIComponent(asked) + "/messages?after=" + conv.seq)
      .then(function (lines) {
        if (conv && conv.id === asked) lines.forEach(render);
        if (conv && conv.id === asked) conv.live = true;  // from here on, lines are news to the store's page
      });
  }

  function follow() {
    if (!conv || conv.status === "closed" || following || poller) return;
    var mine = ++generation, controller = new AbortController(), opened = Date.now();
    following = controller;
    var headers = { Authorization: "Bearer " + cfg.key, "X-Conversation-Token": conv.token,
                    "Last-Event-ID": String(conv.seq), Accept: "text/event-stream" };
    fetch("/v1/conversations/" + encodeURIComponent(conv.id) + "/stream", { headers: headers, signal: controller.signal })
      .then(function (response) {
        if (!response.ok || !response.body) throw new Error("stream refused: " + response.status);
        offline(false)();
        return readEvents(response.body.getReader(), function (kind, data) {
          failures = 0;
          if (kind === "message" && mine === generation) render(JSON.parse(data));
        });
      })
      .catch(function () { /* counted below */ })
      .then(function () {
        if (mine !== generation) return;
        following = null;
        if (Date.now() - opened < 10000) failures += 1;
        if (failures >= STREAM_FAILURES_BEFORE_POLLING) poll();
        else setTimeout(follow, 500 * failures);
      });
  }

  function readEvents(reader, dispatch) {
    var decoder = new TextDecoder(), buffer = "";
    return reader.read().then(function next(chunk) {
      if (chunk.done) return;
      // Lines may end in CRLF or CR (a proxy may rewrite them); a CR at a chunk's end waits for what follows.
      buffer = (buffer + decoder.decode(chunk.value, { stream: true })).replace(/\r\n|\r(?=.)/g, "\n");
      var frames = buffer.split("\n\n");
      buffer = frames.pop();
      frames.forEach(function (frame) {
        var kind = "message", data = [];
        frame.split("\n").forEach(function (line) {
          if (line.indexOf("event:") === 0) kind = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
        });
        if (data.length) dispatch(kind, data.join("\n"));
      });
      return reader.read().then(next);
    });
  }

  function poll() {
    if (poller) return;
    polls = 0;
    poller = setInterval(function () {
      polls += 1;
      catchUp().then(function () {
        offline(false)();
        if (polls % 20 === 0) { stopFollowing(); follow(); }  // every minute, see whether the stream works again
      }, function (error) {
        if (error.status === 0) return offline(true)();
        if (error.status === 401 || error.status === 403 || error.status === 404) stopFollowing();  // not ours
      });
    }, POLL_MS);
  }

  function stopFollowing() {
    generation += 1;
    if (following) following.abort();
    following = null;
    if (poller) clearInterval(poller);
    poller = null;
    failures = 0;
  }

  function render(line) {
    if (!conv || line.seq <= conv.seq) return;
    conv.seq = line.seq;
    remember();
    if (line.author === "visitor") return settle(line);
    if (line.author === "system") return note(line);
    replies.textContent = "";
    var bubble = say(line.author, line.text, line.author === "rep" && line.rep ? line.rep.name : T.assistant);
    if (line.items && line.items.length) bubble.after(cards(line.items));
    if (line.offer) log.appendChild(offerCard(line.offer));
    if (line.author === "bot") quickReplies(line.quick_replies || []);
    if (conv.live) tell("message", { author: line.author, text: line.text, seq: line.seq });
  }

  // The visitor's lines come back in the order they were sent: the oldest bubble still waiting is this one (the
  // server may have tidied its text, so it is shown as stored). One whose answer was lost is found by its text.
  function settle(line) {
    var waiting = pending.shift();
    if (!waiting) {
      var failed = Array.prototype.find.call(log.querySelectorAll(".line.visitor.failed"), function (node) {
        return node.querySelector(".text").textContent === line.text;
      });
      if (!failed) return say("visitor", line.text, T.you);
      waiting = { node: failed };
      failed.classList.remove("failed");
      var status = failed.querySelector(".status");
      if (status) status.remove();
    }
    waiting.node.classList.remove("pending");
    waiting.node.querySelector(".text").textContent = line.text;
  }

  function note(line) {
    var event = line.event, text = line.text;
    if (event === "joined") text = T.joined.replace("{name}", (line.rep && line.rep.name) || "");
    else if (event && T[event]) text = T[event];
    if (event === "joined" || event === "closed") queueNotice(null);
    var p = element("p", event === "closed" ? "system ended" : "system", text);
    log.appendChild(p);
    scrolled();
    if (event === "closed") closed();
  }

  // -- what the visitor sees ----------------------------------------------------------------------------------
  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function say(author, text, who) {
    var bubble = element("div", "line " + author);
    bubble.appendChild(element("span", "who", who));
    bubble.appendChild(element("p", "text", text));
    log.appendChild(bubble);
    scrolled();
    return bubble;
  }

  function scrolled() { log.scrollTop = log.scrollHeight; }

  function webAddress(value) {
    try {
      var url = new URL(String(value));
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) { return null; }
  }

  function money(amount, currency) {
    try { return new Intl.NumberFormat(cfg.locale, { style: "currency", currency: currency }).format(Number(amount)); }
    catch (e) { return amount + " " + (currency || ""); }
  }

  function cards(items) {
    var row = element("ul", "cards");
    row.setAttribute("aria-label", T.products);
    items.forEach(function (item) {
      var card = element("li", "card");
      var picture = webAddress(item.image_url);
      if (picture) {
        var img = element("img");
        img.src = picture;
        img.alt = "";
        img.loading = "lazy";
        card.appendChild(img);
      }
      card.appendChild(element("p", "title", item.title));
      card.appendChild(element("p", "price", money(item.price, item.currency)));
      var page = webAddress(item.url);
      if (page) {
        var link = element("a", "view", T.view);
        link.href = page;
        link.target = "_top";
        link.rel = "noopener";
        card.appendChild(link);
      }
      var add = element("button", "add", T.add_to_cart);
      add.type = "button";
      add.addEventListener("click", function () { addToCart(item, add); });
      card.appendChild(add);
      row.appendChild(card);
    });
    return row;
  }

  function addToCart(item, button) {
    tell("add_to_cart", { item_id: item.item_id, title: item.title, price: item.price, currency: item.currency,
                          url: webAddress(item.url), recommendation_id: item.recommendation_id || null });
    var event = { type: "click", item_id: item.item_id, event_id: "wc-" + conv.id + "-" + item.item_id + "-" + conv.seq };
    if (item.recommendation_id) event.recommendation_id = item.recommendation_id;
    var identity = visitor.identity, headers = {};
    if (identity && identity.customer_id && identity.hash && !visitor.refused) {
      event.customer_id = identity.customer_id;
      headers["X-Customer-Hash"] = identity.hash;
    } else {
      event.visitor_id = visitor.visitor_id;
    }
    call("POST", "/v1/events", { events: [event] }, headers).catch(function () { /* the cart matters more */ });
    button.textContent = T.added;
    button.disabled = true;
  }

  function offerCard(offer) {
    var card = element("div", "offer");
    card.setAttribute("role", "group");
    card.setAttribute("aria-label", T.offer);
    card.appendChild(element("p", "kicker", T.offer));
    card.appendChild(element("p", "title", offer.title));
    var value = offerValue(offer);
    if (value) card.appendChild(element("p", "value", value));
    if (offer.terms) card.appendChild(element("p", "terms", offer.terms));
    if (offer.expires_at) {
      var date = new Date(offer.expires_at);
      if (!isNaN(date)) {
        var shown = new Intl.DateTimeFormat(cfg.locale, { dateStyle: "medium" }).format(date);
        card.appendChild(element("p", "expires", T.valid_until.replace("{date}", shown)));
      }
    }
    if (offer.code) {
      var row = element("p", "code");
      row.appendChild(element("span", null, T.code + ": "));
      row.appendChild(element("code", null, offer.code));
      var copy = element("button", "copy", T.copy);
      copy.type = "button";
      copy.addEventListener("click", function () {
        var done = function () { copy.textContent = T.copied; };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(offer.code).then(done, function () { selectCode(row); });
        } else {
          selectCode(row);
        }
      });
      row.appendChild(copy);
      card.appendChild(row);
    }
    return card;
  }

  function selectCode(row) {
    var range = document.createRange();
    range.selectNodeContents(row.querySelector("code"));
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
  }

  function offerValue(offer) {
    if (offer.kind === "percent" && offer.value !== null) return T.percent.replace("{value}", offer.value);
    if (offer.kind === "amount" && offer.value !== null) return T.amount.replace("{value}", money(offer.value, offer.currency));
    if (offer.kind === "free_shipping") return T.free_shipping;
    return null;
  }

  function quickReplies(choices) {
    replies.textContent = "";
    choices.forEach(function (choice) {
      var button = element("button", "reply", choice);
      button.type = "button";
      button.addEventListener("click", function () { send(choice); input.focus(); });
      replies.appendChild(button);
    });
  }

  function queueNotice(queue) {
    if (!queue) return show(null);
    var text = queue.position <= 1 ? T.queued_next
      : T.queued.replace("{position}", queue.position).replace("{minutes}", Math.max(1, Math.round(queue.wait_seconds / 60)));
    show(text);
  }

  function show(text, action) {
    notice.textContent = "";
    notice.hidden = !text;
    if (!text) return;
    notice.appendChild(element("span", null, text));
    if (action) notice.appendChild(action);
  }

  function offline(down) {
    return function () {
      form.classList.toggle("offline", down);
      if (!down) {
        if (notice.dataset.offline) { show(null); delete notice.dataset.offline; }
        return;
      }
      if (notice.dataset.offline) return;  // said once: no new announcement, the focused Retry button stays
      var retry = element("button", "retry", T.retry);
      retry.type = "button";
      retry.addEventListener("click", function () {
        show(null);
        if (!begun) begin(); else catchUp().then(offline(false), function () { offline(true)(); });
      });
      show(T.offline, retry);
      notice.dataset.offline = "1";
    };
  }

  function failedWith(error) {
    if (error.status === 0) return offline(true)();
    if (error.status === 429) return show(T.slow);
    if (error.status === 409) return closed();
    show((error.problem && error.problem.detail) || T.offline);
  }

  // -- the visitor's turn ------------------------------------------------------------------------------------
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send(input.value);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send(input.value);
    }
  });

  function send(raw) {
    var text = String(raw || "").trim();
    if (!text || !conv || conv.status === "closed") return;
    input.value = "";
    replies.textContent = "";
    var bubble = say("visitor", text, T.you);
    bubble.classList.add("pending");
    var mine = { text: text, node: bubble };
    pending.push(mine);
    typing.hidden = false;
    scrolled();
    var talking = conv;
    call("POST", "/v1/conversations/" + encodeURIComponent(conv.id) + "/messages", { text: text })
      .then(function (turn) {
        if (conv !== talking) return;  // the visitor started a new conversation meanwhile
        conv.status = turn.conversation_status;
        queueNotice(turn.queue);
        return catchUp();
      })
      .then(function () { offline(false)(); }, function (error) {
        if (conv !== talking) return;
        var at = pending.indexOf(mine);
        if (at >= 0) pending.splice(at, 1);
        bubble.classList.add("failed");
        bubble.appendChild(element("span", "status", T.failed));
        failedWith(error);
      })
      .then(function () { typing.hidden = true; });
  }

  // -- the end: how was it ---------------------------------------------------------------------------------
  function closed() {
    if (!conv) return;
    conv.status = "closed";
    stopFollowing();
    form.hidden = true;
    replies.textContent = "";
    if (!log.querySelector(".system.ended")) log.appendChild(element("p", "system ended", T.closed));
    if (!conv.rated && !log.querySelector(".csat")) log.appendChild(csat());
    scrolled();
  }

  function csat() {
    var box = element("form", "csat");
    box.appendChild(element("p", "question", T.csat_question));
    var stars = element("div", "stars");
    stars.setAttribute("role", "radiogroup");
    stars.setAttribute("aria-label", T.csat_question);
    var chosen = 0;
    [1, 2, 3, 4, 5].forEach(function (score) {
      var star = element("button", "star", "\u2605");
      star.type = "button";
      star.setAttribute("role", "radio");
      star.setAttribute("aria-checked", "false");
      star.setAttribute("aria-label", T.csat_score.replace("{score}", score));
      star.dataset.score = String(score);
      star.addEventListener("click", function () {
        chosen = score;
        stars.querySelectorAll(".star").forEach(function (other) {
          var on = Number(other.dataset.score) <= score;
          other.classList.toggle("on", on);
          other.setAttribute("aria-checked", String(Number(other.dataset.score) === score));
        });
        submit.disabled = false;
      });
      stars.appendChild(star);
    });
    box.appendChild(stars);
    var comment = element("textarea", "comment");
    comment.maxLength = 2000;
    comment.setAttribute("aria-label", T.csat_comment);
    comment.placeholder = T.csat_comment;
    box.appendChild(comment);
    var submit = element("button", "send", T.csat_send);
    submit.type = "submit";
    submit.disabled = true;
    box.appendChild(submit);
    var fresh = element("button", "again", T.new);
    fresh.type = "button";
    fresh.addEventListener("click", restart);
    box.appendChild(fresh);
    box.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!chosen) return;
      var rating = { score: chosen };
      if (comment.value.trim()) rating.comment = comment.value.trim();
      call("POST", "/v1/conversations/" + encodeURIComponent(conv.id) + "/csat", rating).then(function () {
        conv.rated = true;
        box.textContent = "";
        box.appendChild(element("p", "thanks", T.csat_thanks));
        box.appendChild(fresh);
      }, failedWith);
    });
    return box;
  }

  tell("ready");
})();
