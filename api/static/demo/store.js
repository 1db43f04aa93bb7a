/* The demo store's own script: its cart, and what a store tells the widget (who is signed in, what is on the page,
   what went into the cart). The first line is the snippet a store pastes before the widget's tag. */
window.salesbot = window.salesbot || function () { (window.salesbot.q = window.salesbot.q || []).push(arguments); };
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("demo-config").textContent);
  if (config.identity) salesbot("identify", config.identity);

  function cart() {
    try { return JSON.parse(localStorage.getItem("demo-cart") || "[]"); } catch (e) { return []; }
  }

  function total(lines) { return lines.reduce(function (sum, line) { return sum + Number(line.price || 0); }, 0); }

  function paint() {
    var lines = cart();
    document.getElementById("cart-count").textContent = String(lines.length);
    document.getElementById("cart-total").textContent = total(lines).toFixed(2);
  }

  function put(line, from) {
    var lines = cart();
    lines.push(line);
    localStorage.setItem("demo-cart", JSON.stringify(lines));
    paint();
    var toast = document.getElementById("toast");
    toast.textContent = "Added " + line.title + " to your cart" + (from ? " from the chat" : "") + ".";
    toast.hidden = false;
    document.body.dataset.lastAdded = line.item_id;
  }

  salesbot("page", Object.assign({}, config.page, { cart_value: total(cart()) }));
  salesbot("on", "add_to_cart", function (item) { put(item, "chat"); });

  document.addEventListener("DOMContentLoaded", function () {
    paint();
    document.querySelectorAll("button.add").forEach(function (button) {
      button.addEventListener("click", function () {
        var line = { item_id: button.dataset.item, title: button.dataset.title, price: Number(button.dataset.price) };
        put(line, null);
        salesbot("track", { type: "add_to_cart", item_id: line.item_id, price: line.price, quantity: 1 });
      });
    });
  });
})();
