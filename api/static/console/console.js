/* The rep console: the inbox, one conversation's transcript beside its hand-off packet, and the rep's actions, all
   through the /v1 rep API with the session cookie (changes send the page's CSRF token in X-CSRF-Token).
   Every stored text enters the page as text (text nodes, textContent), never as HTML. */
"use strict";

(function () {
  const POLL_MS = 5000; // the fallback when a live stream fails
  const RETRY_STREAM_MS = 30000; // then the stream is tried again
  const LINES_PER_PAGE = 200; // what GET /messages answers at most
  const STATES = { queued: "waiting in the queue", assigned: "offered to you", live: "live with you" };
  const AUTHORS = { visitor: "Visitor", bot: "Bot", rep: "Rep", system: "" };

  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const myRepId = document.querySelector('meta[name="rep-id"]').content;
  const $ = (id) => document.getElementById(id);
  const state = { inbox: null, selected: null, lastSeq: 0, feed: null, busy: false };

  /* A new element holding `children`: strings and numbers become text nodes, never markup. */
  function el(tag, className, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const child of children) {
      if (child === null || child === undefined || child === "") continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      window.location.assign("/app/inbox"); // the session ended (signed out elsewhere, key revoked)
      throw new Error("You were signed out.");
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new Error((data && (data.detail || data.title)) || `The server answered ${response.status}.`);
    return data;
  }

  function showProblem(error) {
    const notice = $("notice");
    notice.textContent = error && error.message ? error.message : String(error);
    notice.hidden = false;
  }

  function clearProblem() {
    $("notice").hidden = true;
    $("notice").textContent = "";
  }

  /* Follow a Server-Sent Events stream; while it fails, call `poll` every POLL_MS instead. */
  function follow({ url, kind, onData, poll, onMode }) {
    let source = null;
    let timer = null;
    let retry = null;
    let closed = false;
    const mode = (name) => onMode && onMode(name);
    const pollNow = () => poll().catch(showProblem);
    const startPolling = () => {
      if (timer || closed) return;
      timer = setInterval(pollNow, POLL_MS);
      pollNow();
      mode("polling");
    };
    const stopPolling = () => {
      clearInterval(timer);
      timer = null;
    };
    const open = () => {
      if (closed) return;
      if (typeof window.EventSource !== "function") {
        startPolling();
        return;
      }
      source = new EventSource(url());
      source.addEventListener("open", () => {
        stopPolling();
        mode("live");
      });
      source.addEventListener(kind, (event) => {
        stopPolling();
        mode("live");
        onData(JSON.parse(event.data));
      });
      source.addEventListener("error", () => {
        startPolling();
        if (source.readyState === EventSource.CLOSED) {
          source.close();
          retry = setTimeout(open, RETRY_STREAM_MS);
        }
      });
    };
    open();
    return {
      close() {
        closed = true;
        stopPolling();
        clearTimeout(retry);
        if (source) source.close();
      },
    };
  }

  /* ---- the inbox ---- */

  async function refresh() {
    showInbox(await call("GET", "/v1/inbox"));
  }

  function showInbox(inbox) {
    state.inbox = inbox;
    showPresence(inbox.rep.presence);
    fillList("mine", inbox.mine);
    fillList("queue", inbox.queue);
    if (state.selected) showSelected(findPacket(state.selected));
  }

  function findPacket(id) {
    if (!state.inbox) return null;
    return [...state.inbox.mine, ...state.inbox.queue].find((p) => p.conversation_id === id) || null;
  }

  function fillList(name, packets) {
    $(name).replaceChildren(...packets.map(packetItem));
    $(`${name}-count`).textContent = packets.length ? `(${packets.length})` : "";
    $(`${name}-empty`).hidden = packets.length > 0;
  }

  function packetItem(packet) {
    const score = packet.lead && packet.lead.score !== null ? `score ${packet.lead.score}` : "";
    const where = packet.state === "queued" ? `#${packet.position}` : STATES[packet.state] || packet.state;
    const button = el(
      "button",
      "pick",
      el("span", "who", who(packet)),
      el("span", "meta", [where, waiting(packet), score].filter(Boolean).join(" · ")),
      el("span", "need", packet.need ? `Needs: ${packet.need}` : "Need not known yet"),
      el("span", "reason", packet.reason),
    );
    button.type = "button";
    button.addEventListener("click", () => select(packet.conversation_id));
    const item = el("li", packet.conversation_id === state.selected ? "selected" : "", button);
    item.dataset.conversationId = packet.conversation_id;
    item.dataset.state = packet.state;
    return item;
  }

  function who(packet) {
    const fields = (packet.lead && packet.lead.fields) || {};
    const name = [shown(fields.name), shown(fields.company)].filter(Boolean).join(", ");
    return name || `Visitor ${packet.conversation_id.slice(-6)}`;
  }

  function waiting(packet) {
    return packet && packet.state !== "live" ? waited(packet.waiting_since) : "";
  }

  function waited(since) {
    if (!since) return "";
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
    if (seconds < 60) return `waiting ${seconds} s`;
    if (seconds < 3600) return `waiting ${Math.floor(seconds / 60)} min`;
    return `waiting ${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  }

  /* A field's value as one line of text (fields may hold numbers, or objects such as {text: "..."}). */
  function shown(value) {
    if (value === null || value === undefined) return "";
    if (typeof value !== "object") return String(value);
    if (Array.isArray(value)) return value.map(shown).join(", ");
    if ("text" in value) return shown(value.text);
    return Object.entries(value)
      .map(([key, inner]) => `${key}: ${shown(inner)}`)
      .join(", ");
  }

  function showPresence(presence) {
    const box = $("presence");
    box.checked = presence === "online";
    box.disabled = false;
    $("presence-label").textContent = presence === "online" ? "Online" : "Away";
  }

  async function setPresence(status) {
    const answer = await call("POST", "/v1/inbox/presence", { status });
    showPresence(answer.presence);
  }

  function showLink(mode) {
    $("link").textContent = mode === "live" ? "live" : `checking every ${POLL_MS / 1000} s`;
    $("link").dataset.mode = mode;
  }

  /* ---- one conversation ---- */

  function select(id) {
    if (state.selected === id) return;
    if (state.feed) state.feed.close();
    state.selected = id;
    state.lastSeq = 0;
    state.feed = null;
    $("transcript").replaceChildren();
    $("reply-text").value = "";
    $("pick").hidden = true;
    $("chat").hidden = false;
    for (const item of document.querySelectorAll(".packets li")) {
      item.classList.toggle("selected", item.dataset.conversationId === id);
    }
    showSelected(findPacket(id));
    loadLines(id)
      .then(() => {
        if (state.selected !== id) return;
        state.feed = follow({
          url: () => `/v1/conversations/${encodeURIComponent(id)}/stream?after=${state.lastSeq}`,
          kind: "message",
          onData: (line) => addLine(id, line),
          poll: () => loadLines(id),
        });
      })
      .catch(showProblem);
  }

  async function loadLines(id) {
    for (;;) {
      const path = `/v1/conversations/${encodeURIComponent(id)}/messages?after=${state.lastSeq}`;
      const lines = await call("GET", path);
      if (state.selected !== id) return;
      lines.forEach((line) => addLine(id, line));
      if (lines.length < LINES_PER_PAGE) return;
    }
  }

  function addLine(id, line) {
    if (state.selected !== id || line.seq <= state.lastSeq) return;
    state.lastSeq = line.seq;
    const author = line.author === "rep" && line.rep ? line.rep.name : AUTHORS[line.author];
    const item = el(
      "li",
      "line",
      el("div", "line-head", el("span", "author", author === undefined ? line.author : author), clock(line.at)),
      el("p", "text", line.text),
    );
    item.dataset.author = line.author;
    item.dataset.seq = line.seq;
    if (line.items && line.items.length) item.append(el("ul", "items", ...line.items.map((p) => el("li", "", product(p)))));
    if (line.offer) item.append(el("p", "offer", `Offer: ${offer(line.offer)}`));
    if (line.quick_replies && line.quick_replies.length) {
      item.append(el("p", "quick", `Suggested: ${line.quick_replies.join(" · ")}`));
    }
    if (line.author === "bot" && line.feedback) {
      const bar = el("div", "feedback");
      showFeedback(id, line.seq, bar, line.feedback);
      item.append(bar);
    }
    $("transcript").append(item);
    item.scrollIntoView({ block: "nearest" });
  }

  function clock(at) {
    if (!at) return null;
    const when = new Date(at);
    const time = el("time", "", when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    time.dateTime = at;
    return time;
  }

  function product(item) {
    const price = [item.price, item.currency].filter(Boolean).join(" ");
    return [item.title || item.item_id, price, item.category ? `(${item.category})` : ""].filter(Boolean).join(" — ");
  }

  function offer(card) {
    return [card.title, card.text, card.code ? `code ${card.code}` : ""].filter(Boolean).join(" — ");
  }

  function heldByMe(packet) {
    return Boolean(packet) && packet.rep_id === myRepId && (packet.state === "assigned" || packet.state === "live");
  }

  function showSelected(packet) {
    const live = heldByMe(packet) && packet.state === "live";
    const takeable = Boolean(packet) && (packet.state === "queued" || (heldByMe(packet) && packet.state === "assigned"));
    $("chat-title").textContent = packet ? who(packet) : `Conversation ${state.selected}`;
    $("chat-state").textContent = packet
      ? [STATES[packet.state] || packet.state, waiting(packet)].filter(Boolean).join(" · ")
      : "No longer in your inbox or the queue.";
    $("accept").hidden = !takeable;
    $("release").hidden = !heldByMe(packet);
    $("resolve").hidden = !heldByMe(packet);
    $("transfer").hidden = !heldByMe(packet);
    for (const id of ["accept", "release", "resolve"]) $(id).disabled = state.busy;
    // A rep rates the bot's lines of a conversation they hold, and writes the right reply once they took it over.
    $("transcript").dataset.may = [heldByMe(packet) ? "rate" : "", live ? "correct" : ""].join(" ").trim();
    $("reply-text").disabled = !live;
    $("send").disabled = !live || state.busy;
    showPacket(packet);
  }

  function section(title, ...content) {
    const body = content.filter((part) => part !== null && part !== undefined && part !== "");
    return body.length ? el("section", "", el("h3", "", title), ...body) : null;
  }

  function list(tag, values, render = (value) => value) {
    return values && values.length ? el(tag, "", ...values.map((value) => el("li", "", render(value)))) : null;
  }

  function pairs(object) {
    const entries = Object.entries(object || {});
    if (!entries.length) return null;
    return el("dl", "", ...entries.flatMap(([key, value]) => [el("dt", "", key.replace(/_/g, " ")), el("dd", "", shown(value))]));
  }

  /* What earned the score, part by part ({fields: {name: {points, of, why}}, behaviour: {...}}); what is not known
     yet goes on one line. */
  function scoring(breakdown) {
    if (!breakdown || typeof breakdown !== "object") return null;
    const parts = [];
    const unknown = [];
    for (const group of ["fields", "behaviour"]) {
      for (const [name, part] of Object.entries(breakdown[group] || {})) {
        const label = name.replace(/_/g, " ");
        if (part && part.why === "not known yet") unknown.push(label);
        else if (part && typeof part === "object") {
          parts.push(`${label}: ${part.points}/${part.of}` + (part.why ? ` (${part.why})` : ""));
        }
      }
    }
    if (unknown.length) parts.push(`not known yet: ${unknown.join(", ")}`);
    return parts.length ? list("ul", parts) : pairs(breakdown);
  }

  function showPacket(packet) {
    $("packet").hidden = !packet;
    if (!packet) return;
    const lead = packet.lead || {};
    const score = lead.score === null || lead.score === undefined ? "not scored" : `${lead.score}`;
    const behaviour = [
      `${packet.recent_views || 0} views or clicks in 30 days`,
      `${packet.purchases || 0} purchases`,
      `cart: ${packet.cart_value || 0}`,
    ];
    $("packet-body").replaceChildren(
      ...[
        section("Summary", list("ol", packet.summary)),
        section("Why a person", el("p", "", packet.reason || "asked by a rep")),
        section("Need", el("p", "", packet.need || "not known yet")),
        section(
          "Lead",
          el("p", "", `Score ${score}`, lead.status ? ` · ${lead.status}` : ""),
          scoring(lead.score_breakdown),
        ),
        section("What they told us", pairs(lead.fields)),
        section("Would not say", list("ul", lead.declined)),
        section("Products shown", list("ul", packet.products_shown, product)),
        section("Offer shown", packet.offer_shown ? el("p", "", offer(packet.offer_shown)) : null),
        section(
          "Recent behaviour",
          list("ul", behaviour),
          list("ul", packet.recent_events, (e) => [e.type, e.item_id, e.at ? new Date(e.at).toLocaleString() : ""].filter(Boolean).join(" · ")),
        ),
      ].filter(Boolean),
    );
  }

  /* ---- feedback on the bot's lines: thumbs up or down with a reason, and the reply the bot should have given ---- */

  function showFeedback(id, seq, bar, summary) {
    const mine = summary.mine || {};
    const reasons = Object.entries(summary.reasons || {}).map(([reason, n]) => `${reason.replace(/_/g, " ")}: ${n}`);
    const up = thumb("Good", "Good reply", mine.rating === "up");
    const down = thumb("Bad", "Bad reply", mine.rating === "down");
    const reason = el("select", "reason");
    reason.append($("rating-reasons").content.cloneNode(true));
    reason.value = mine.reason || "";
    reason.hidden = mine.rating !== "down";
    reason.setAttribute("aria-label", "What was wrong");
    const toCorrect = el("button", "to-correct", mine.correction ? "Edit my correction" : "Write the right reply");
    toCorrect.type = "button";
    const corrections = (summary.corrections || []).map((c) => el("li", "", `Should have said: ${c.text}`));
    bar.replaceChildren(
      ...[
        el("span", "tally", [`${summary.up} up`, `${summary.down} down`, ...reasons].join(" · ")),
        el("span", "rate", up, down, reason),
        toCorrect,
        corrections.length ? el("ul", "corrections", ...corrections) : null,
      ].filter(Boolean),
    );
    const again = (body) => feedback(id, seq, bar, body);
    // Pressing my thumb again takes it back (my correction, if any, stays).
    up.addEventListener("click", () => again(mine.rating === "up" ? withdrawn(mine) : { rating: "up" }));
    down.addEventListener("click", () => again(mine.rating === "down" ? withdrawn(mine) : { rating: "down" }));
    reason.addEventListener("change", () => again({ rating: "down", reason: reason.value || null }));
    toCorrect.addEventListener("click", () => correcting(id, seq, bar, mine));
  }

  function thumb(word, label, pressed) {
    const button = el("button", "thumb", word);
    button.type = "button";
    button.title = label;
    button.setAttribute("aria-label", label);
    button.setAttribute("aria-pressed", String(pressed));
    return button;
  }

  function withdrawn(mine) {
    return mine.correction ? { rating: null, reason: null } : null; // null: withdraw it all
  }

  function correcting(id, seq, bar, mine) {
    if (bar.querySelector("form.correction")) return;
    const form = $("correction-form").content.firstElementChild.cloneNode(true);
    const text = form.querySelector("textarea");
    text.value = mine.correction || "";
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const written = text.value.trim();
      if (!written && mine.correction && !mine.rating) feedback(id, seq, bar, null); // nothing left: withdraw it
      else if (written || mine.correction) feedback(id, seq, bar, { correction: written || null });
    });
    bar.append(form);
    text.focus();
  }

  /* Send my feedback on a line (`body` null withdraws it) and show the line's feedback as it now stands. */
  async function feedback(id, seq, bar, body) {
    if (bar.dataset.busy) return;
    bar.dataset.busy = "1";
    bar.querySelectorAll("button, select, textarea").forEach((control) => (control.disabled = true));
    const path = `/v1/conversations/${encodeURIComponent(id)}/messages/${seq}/rating`;
    try {
      let summary;
      if (body === null) {
        await call("DELETE", path);
        const [line] = await call("GET", `/v1/conversations/${encodeURIComponent(id)}/messages?after=${seq - 1}`);
        summary = line.feedback;
      } else {
        summary = (await call("POST", path, body)).feedback;
      }
      clearProblem();
      showFeedback(id, seq, bar, summary);
    } catch (error) {
      showProblem(error);
      bar.querySelectorAll("button, select, textarea").forEach((control) => (control.disabled = false));
    } finally {
      delete bar.dataset.busy;
    }
  }

  /* ---- actions ---- */

  async function act(verb, body) {
    const id = state.selected;
    if (!id || state.busy) return;
    state.busy = true;
    showSelected(findPacket(id));
    try {
      await call("POST", `/v1/conversations/${encodeURIComponent(id)}/${verb}`, body);
      clearProblem();
      await refresh();
    } catch (error) {
      showProblem(error);
    } finally {
      state.busy = false;
      showSelected(findPacket(id));
    }
  }

  async function reply(event) {
    event.preventDefault();
    const id = state.selected;
    const text = $("reply-text").value.trim();
    if (!id || !text || state.busy) return;
    state.busy = true;
    $("send").disabled = true;
    try {
      const line = await call("POST", `/v1/conversations/${encodeURIComponent(id)}/replies`, { text });
      $("reply-text").value = "";
      clearProblem();
      addLine(id, line);
    } catch (error) {
      showProblem(error);
    } finally {
      state.busy = false;
      showSelected(findPacket(id));
    }
  }

  function wire() {
    $("accept").addEventListener("click", () => act("accept"));
    $("release").addEventListener("click", () => act("release"));
    $("resolve").addEventListener("click", () => act("resolve"));
    $("transfer").addEventListener("submit", (event) => {
      event.preventDefault();
      const to = $("transfer-to").value.trim();
      if (to) act("transfer", { [$("transfer-kind").value]: to }).then(() => ($("transfer-to").value = ""));
    });
    $("reply").addEventListener("submit", reply);
    $("reply-text").addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return; // Shift+Enter: a new line
      event.preventDefault();
      $("reply").requestSubmit();
    });
    $("presence").addEventListener("change", (event) => {
      setPresence(event.target.checked ? "online" : "away").catch((error) => {
        showProblem(error);
        if (state.inbox) showPresence(state.inbox.rep.presence);
      });
    });
  }

  async function start() {
    wire();
    try {
      await setPresence("online"); // opening the console means being there; the rep can switch to away
    } catch (error) {
      showProblem(error);
    }
    await refresh().catch(showProblem);
    follow({ url: () => "/v1/inbox/stream", kind: "inbox", onData: showInbox, poll: refresh, onMode: showLink });
    setInterval(() => state.inbox && showInbox(state.inbox), 15000); // waiting times move on
  }

  start();
})();
