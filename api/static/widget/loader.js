/* salesbot's widget loader, added to a store's pages with one tag:
     <script async src="https://bot.example.com/widget.js" data-key="pk_live_..." data-locale="de"></script>
   It draws a launcher in a shadow root and frames the chat (served by salesbot) only when it is opened or when a
   proactive trigger fires. The page talks to it with salesbot(command, ...): identify, page, track, open, close, on.
   Options: data-locale (en, de, fr, es), data-color (#hex), data-position (right, left). The file changes when
   salesbot is upgraded, so do not pin it with a Subresource Integrity hash. */
(function (w, d) {
  "use strict";
  var me = d.currentScript || d.querySelector("script[src*='widget.js'][data-key]");
  if (!me || w.__salesbotLoaded) return;
  w.__salesbotLoaded = true;
  var opt = me.dataset, key = opt.key || "", base = new URL(me.src, location.href).origin;
  var lang = (opt.locale || navigator.language || "en").slice(0, 2).toLowerCase();
  var WORDS = { en: ["Chat with us", "Close chat", "Dismiss"], de: ["Chat öffnen", "Chat schließen", "Schließen"],
                fr: ["Ouvrir le chat", "Fermer le chat", "Fermer"], es: ["Abrir el chat", "Cerrar el chat", "Cerrar"] };
  if (!WORDS[lang]) lang = "en";
  var words = WORDS[lang], colour = /^#[0-9a-f]{3,8}$/i.test(opt.color || "") ? opt.color : "#1f6feb";
  var side = opt.position === "left" ? "left" : "right";
  var state = { open: false, identity: null, page: { url: location.href }, cart: 0, on: {}, ready: false };
  var frame = null, nudge = null, triggers = [], since = Date.now();

  function stored(name, value) {
    try {
      if (value === undefined) return JSON.parse(localStorage.getItem("salesbot:" + name) || "null");
      localStorage.setItem("salesbot:" + name, JSON.stringify(value));
    } catch (e) { return null; }
  }
  var visitorId = stored("visitor");
  if (!visitorId) {
    visitorId = "v-" + Math.random().toString(36).slice(2) + Date.now().toString(36);
    stored("visitor", visitorId);
  }

  // -- the launcher and the panel, in a shadow root the page's CSS cannot reach ---------------------------------
  var host = d.createElement("div");
  host.id = "salesbot-widget";
  var root = host.attachShadow({ mode: "open" });
  var css =
    ":host{all:initial}" +
    ".launch{position:fixed;bottom:20px;" + side + ":20px;width:56px;height:56px;border-radius:50%;border:0;" +
    "background:" + colour + ";color:#fff;font-size:26px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);" +
    "z-index:2147483000}.launch:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}" +
    ".panel{position:fixed;bottom:88px;" + side + ":20px;width:380px;height:min(640px,calc(100vh - 110px));" +
    "border-radius:14px;overflow:hidden;box-shadow:0 8px 30px rgba(0,0,0,.3);background:#fff;z-index:2147483001}" +
    ".panel[hidden],.nudge[hidden]{display:none}iframe{width:100%;height:100%;border:0}" +
    ".nudge{position:fixed;bottom:88px;" + side + ":20px;max-width:280px;padding:12px 34px 12px 14px;" +
    "border-radius:12px;background:#fff;color:#1b1f24;font:14px/1.4 system-ui,sans-serif;cursor:pointer;" +
    "box-shadow:0 6px 20px rgba(0,0,0,.25);z-index:2147483000}.nudge .say{all:unset;cursor:pointer}" +
    ".nudge .dismiss{position:absolute;top:4px;right:4px;border:0;background:none;font-size:16px;cursor:pointer}" +
    ".nudge button:focus-visible{outline:3px solid #ffbf47}" +
    "@media (max-width:480px){.panel{inset:0;width:100%;height:100%;border-radius:0}}";
  root.innerHTML =
    "<div class='nudge' role='status' hidden><button type='button' class='say'></button>" +
    "<button type='button' class='dismiss'>\u2715</button></div>" +
    "<div class='panel' id='salesbot-panel' hidden></div>" +
    "<button class='launch' type='button' aria-controls='salesbot-panel' aria-expanded='false'>\uD83D\uDCAC</button>";
  style(css);
  function style(text) {
    // A constructed sheet, not a <style> element: stores whose CSP forbids inline styles still get a styled widget.
    if (root.adoptedStyleSheets && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(text);
      root.adoptedStyleSheets = [sheet];
    } else {
      var element = d.createElement("style");
      element.textContent = text;
      root.appendChild(element);
    }
  }
  var launch = root.querySelector(".launch"), panel = root.querySelector(".panel");
  nudge = root.querySelector(".nudge");
  launch.setAttribute("aria-label", words[0]);
  nudge.querySelector(".dismiss").setAttribute("aria-label", words[2]);
  launch.addEventListener("click", function () { state.open ? close() : open(); });
  nudge.addEventListener("click", function (e) {
    nudge.hidden = true;
    if (e.target.classList.contains("say")) open();
  });

  function mount() { if (!host.isConnected) d.body.appendChild(host); }
  if (d.body) mount(); else d.addEventListener("DOMContentLoaded", mount);

  function load() {
    if (frame) return;
    frame = d.createElement("iframe");
    frame.title = words[0];
    frame.allow = "clipboard-write";
    frame.src = base + "/widget/chat?" + new URLSearchParams({ key: key, locale: lang, color: colour,
                                                            origin: location.origin });
    panel.appendChild(frame);
  }

  function post(type, data) {
    if (frame && state.ready) frame.contentWindow.postMessage({ salesbot: true, type: type, data: data }, base);
  }

  function open() {
    load();
    state.open = true;
    nudge.hidden = true;
    panel.hidden = false;
    launch.setAttribute("aria-expanded", "true");
    launch.setAttribute("aria-label", words[1]);
    launch.textContent = "\u2715";
    post("open");
    if (state.ready) frame.focus();
    emit("open");
  }

  function close() {
    if (!state.open) return;
    state.open = false;
    panel.hidden = true;
    launch.setAttribute("aria-expanded", "false");
    launch.setAttribute("aria-label", words[0]);
    launch.textContent = "\uD83D\uDCAC";
    launch.focus();
    emit("close");
  }

  // Each person's conversation is kept apart: on a shared computer the next visitor (or the customer who signed out)
  // starts a new one, and the customer finds theirs again after signing back in.
  function slot(customerId) { return "conversation:" + key + ":" + (customerId || ""); }

  function resumable() {
    var saved = stored(slot(state.identity && state.identity.customer_id));
    var who = (state.identity && state.identity.customer_id) || null;
    return saved && (saved.customer_id || null) === who ? saved : null;
  }

  function emit(name, data) {
    (state.on[name] || []).forEach(function (fn) {
      try { fn(data); } catch (e) { setTimeout(function () { throw e; }); }
    });
  }

  w.addEventListener("message", function (e) {
    if (!frame || e.source !== frame.contentWindow || e.origin !== base || !e.data || !e.data.salesbot) return;
    var type = e.data.type;
    if (type === "ready") {
      state.ready = true;
      post("init", { visitor_id: visitorId, identity: state.identity, page: state.page, open: state.open,
                     conversation: resumable() });
      if (state.open) frame.focus();
    } else if (type === "close") {
      close();
    } else if (type === "remember") {
      var kept = e.data.data;
      stored(slot(kept ? kept.customer_id : state.identity && state.identity.customer_id), kept);
    } else {
      emit(type, e.data.data);
    }
  });

  // -- what the page can ask -----------------------------------------------------------------------------------
  var commands = {
    identify: function (who) {
      state.identity = who && who.customer_id ? { customer_id: String(who.customer_id), hash: String(who.hash || "") } : null;
      post("identify", state.identity);
    },
    page: function (facts) {
      state.page = Object.assign({ url: location.href }, facts || {});
      if (typeof state.page.cart_value === "number") state.cart = state.page.cart_value;
      post("page", state.page);
      check();
    },
    track: function (event) {
      if (!event || !event.type || !event.item_id) return;
      if (event.type === "add_to_cart") {
        state.cart += (Number(event.price) || 0) * (Number(event.quantity) || 1);
        check();
      }
      var row = { type: String(event.type), item_id: String(event.item_id), occurred_at: new Date().toISOString() };
      if (event.quantity) row.value = Number(event.quantity);
      if (event.recommendation_id) row.recommendation_id = String(event.recommendation_id);
      var headers = { Authorization: "Bearer " + key, "Content-Type": "application/json" };
      if (state.identity && state.identity.hash) {
        row.customer_id = state.identity.customer_id;
        headers["X-Customer-Hash"] = state.identity.hash;
      } else {
        row.visitor_id = visitorId;
      }
      fetch(base + "/v1/events", { method: "POST", headers: headers, body: JSON.stringify({ events: [row] }),
                                   keepalive: true }).catch(function () {});
    },
    open: open,
    close: close,
    on: function (name, fn) { if (typeof fn === "function") (state.on[name] = state.on[name] || []).push(fn); },
  };

  function run(args) {
    var command = commands[args[0]];
    try {
      if (command) command.apply(null, Array.prototype.slice.call(args, 1));
    } catch (e) { setTimeout(function () { throw e; }); }  // one bad call must not stop the ones after it
  }
  var queued = (w.salesbot && w.salesbot.q) || [];
  w.salesbot = function () { run(arguments); };
  queued.forEach(run);

  // -- proactive triggers, set by the store's marketers ----------------------------------------------------------
  function check(kind) {
    triggers.forEach(function (t) {
      var due = t.kind === "exit_intent" ? kind === "exit"
        : t.kind === "time_on_page" ? Date.now() - since >= t.seconds * 1000
        : t.kind === "cart_value" ? state.cart >= t.amount
        : t.kind === "viewed_category" && String(state.page.category || "").toLowerCase() === String(t.category).toLowerCase();
      if (due) fire(t);
    });
  }

  function fire(t) {
    if (state.open || !nudge.hidden) return;
    var seen = stored("trigger:" + t.trigger_id) || { shows: 0, at: 0 };
    if (seen.shows >= t.max_shows || Date.now() - seen.at < t.hours_between * 3600000) return;
    stored("trigger:" + t.trigger_id, { shows: seen.shows + 1, at: Date.now() });
    nudge.querySelector(".say").textContent = t.message;
    nudge.hidden = false;
    load();  // the chat is ready the moment the visitor answers the nudge
    emit("proactive", { trigger_id: t.trigger_id, kind: t.kind });
  }

  function watch() {
    fetch(base + "/v1/widget/settings", { headers: { Authorization: "Bearer " + key } })
      .then(function (r) { return r.ok ? r.json() : { triggers: [] }; })
      .then(function (settings) {
        triggers = settings.triggers || [];
        triggers.forEach(function (t) {
          if (t.kind === "time_on_page") setTimeout(check, Math.max(0, t.seconds * 1000 - (Date.now() - since)) + 50);
        });
        d.addEventListener("mouseout", function (e) { if (!e.relatedTarget && e.clientY <= 0) check("exit"); });
        check();
      }, function () {});
  }
  if (d.readyState === "complete") setTimeout(watch, 0);
  else w.addEventListener("load", function () { setTimeout(watch, 0); });
})(window, document);
