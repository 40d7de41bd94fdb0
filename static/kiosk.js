// Kiosk behaviour that HTML alone cannot give: cash-register keypad, countdown, auto-return,
// a result held for staff, idle reset, screen wake lock and a notice when the till server is out of reach.
// No framework, no inline script: it runs under a strict Content-Security-Policy.
(function () {
  "use strict";

  // -- cash-register amount entry: digits shift in from the right, the currency's decimals ---
  function minorOf(text, places) { // "100000" or "100000.5", 2 places -> "10000000" (no floating point)
    var parts = String(text).split(".");
    return (parts[0] + ((parts[1] || "") + "0".repeat(places)).slice(0, places)).replace(/^0+(?=\d)/, "");
  }
  function notAbove(a, b) { // two digit strings without leading zeros: a <= b
    return a.length < b.length || (a.length === b.length && a <= b);
  }
  function keypad(form) {
    var display = form.querySelector("[data-amount-display]");
    var input = form.querySelector("[data-amount-input]");
    var submit = form.querySelector("[data-submit]");
    var f = form.dataset;
    var places = parseInt(f.digits || "2", 10);  // 0 for JPY, 3 for KWD
    var maxDigits = parseInt(f.maxDigits || "9", 10);
    // The largest amount, in the currency's minor units as a digit string: a press past it is
    // refused at once, and the limit named.
    var maxMinor = f.maxAmount ? minorOf(f.maxAmount, places) : null;
    var limit = form.querySelector("[data-limit-message]");
    // A form sent back with an error keeps its amount ("125.00" -> digits "12500").
    var digits = /^\d+(\.\d+)?$/.test(input.value) ? input.value.replace(".", "").replace(/^0+/, "") : "";

    function parts() { // "12345" -> ["123", "45"], built from the digits: no floating point
      var padded = digits.padStart(places + 1, "0");
      var whole = padded.slice(0, padded.length - places).replace(/^0+(?=\d)/, "");
      return [whole, padded.slice(padded.length - places)];
    }
    function render() {
      var p = parts();
      input.value = digits ? p[0] + (places ? "." + p[1] : "") : "";
      // Written as the server writes it (kiosk.money): its sign, separators and digits.
      var whole = p[0].replace(/\B(?=(\d{3})+(?!\d))/g, f.group || "");
      display.textContent = (f.prefix || "") + whole + (places ? (f.decimal || ".") + p[1] : "") + (f.suffix || "");
      submit.disabled = !digits;
    }
    function press(key) {
      var over = false;
      if (key === "clear") digits = "";
      else if (key === "back") digits = digits.slice(0, -1);
      else if (/^\d+$/.test(key)) {
        var next = (digits + key).replace(/^0+/, "");
        over = maxMinor !== null && !notAbove(next, maxMinor);
        if (next.length <= maxDigits && !over) digits = next;
      }
      if (limit) limit.hidden = !over;
      render();
    }
    form.addEventListener("click", function (e) {
      var btn = e.target.closest("[data-key]");
      if (btn) { e.preventDefault(); press(btn.dataset.key); }
    });
    document.addEventListener("keydown", function (e) {
      if (e.target.matches("input[type=text], input[type=tel]")) return;
      if (/^\d$/.test(e.key)) press(e.key);
      else if (e.key === "Backspace") press("back");
      else if (e.key === "Escape" || e.key === "Delete") press("clear");
      else if (e.key === "Enter" && digits) { form.requestSubmit(); }
      else return;
      e.preventDefault();
    });
    form.addEventListener("kiosk:idle", function () { digits = ""; render(); });
    render();
  }

  // -- a form is sent once: a second tap while the first is on its way does nothing --------
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.dataset.sent) { e.preventDefault(); return; }
    form.dataset.sent = "1";
    setTimeout(function () {
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    }, 0);
  });
  // A page restored by the back button must accept input again.
  window.addEventListener("pageshow", function (e) {
    if (!e.persisted) return;
    document.querySelectorAll("form[data-sent]").forEach(function (f) {
      delete f.dataset.sent;
      f.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
    });
  });

  // -- countdown to the kiosk's deadline; the server sends the seconds left with each poll --
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      if (!el.dataset.end) el.dataset.end = String(Date.now() + 1000 * Number(el.dataset.remaining || 0));
      var left = Math.max(0, Math.round((Number(el.dataset.end) - Date.now()) / 1000));
      el.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
    });
  }

  // -- results go back to the amount screen by themselves, or on a tap ----------------------
  function autoReturn(form) {
    var seconds = Number(form.dataset.seconds || 10);
    setTimeout(function () { form.requestSubmit(); }, seconds * 1000);
    document.body.addEventListener("click", function (e) {
      if (!e.target.closest("button, a")) form.requestSubmit();
    });
  }

  // -- a result that waits for staff goes on only when the server says staff ended it -------
  function onRelease(form) {
    document.body.addEventListener("kiosk:released", function () { form.requestSubmit(); });
  }

  // -- idle reset on the amount and coin screens (never while a payment is open) -----------
  function idleReset(seconds) {
    var timer;
    function reset() {
      var back = document.querySelector("[data-idle-reset]");
      if (back) back.requestSubmit();
      document.querySelectorAll("[data-keypad]").forEach(function (f) {
        f.dispatchEvent(new CustomEvent("kiosk:idle"));
      });
    }
    function arm() { clearTimeout(timer); timer = setTimeout(reset, seconds * 1000); }
    ["pointerdown", "keydown"].forEach(function (t) { document.addEventListener(t, arm, true); });
    arm();
  }

  // -- an unattended amount screen loads itself again every few hours: each showing keeps its
  //    session, and the form's token, alive, so the first customer after a quiet night is not
  //    told the page expired. Never while someone is typing an amount.
  function freshen(seconds, url, idle) {
    var loaded = Date.now(), touched = 0;
    ["pointerdown", "keydown"].forEach(function (t) {
      document.addEventListener(t, function () { touched = Date.now(); }, true);
    });
    function check() {  // a typed amount is cleared by the idle reset before this is due
      var now = Date.now();
      if (now - loaded >= seconds * 1000 && now - touched >= idle * 1000) window.location.replace(url);
    }
    setInterval(check, 60 * 1000);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") check();
    });
  }

  // -- keep the screen on -------------------------------------------------------------------
  var lock = null;
  function wake() {
    if (!("wakeLock" in navigator) || document.visibilityState !== "visible" || lock) return;
    navigator.wakeLock.request("screen").then(function (l) {
      lock = l;
      l.addEventListener("release", function () { lock = null; });
    }).catch(function () { /* refused (no user gesture yet, or policy): try on next tap */ });
  }

  // -- tell the customer when the till server is out of reach ------------------------------
  function offline(show) {
    var el = document.getElementById("offline");
    if (el) el.hidden = !show;
  }

  // -- staff reach the operator area by holding the shop name for two seconds --------------
  function longPress(el) {
    var timer;
    function cancel() { clearTimeout(timer); }
    el.addEventListener("pointerdown", function () {
      cancel();
      timer = setTimeout(function () { window.location.assign(el.dataset.longPress); }, 2000);
    });
    ["pointerup", "pointerleave", "pointercancel"].forEach(function (t) { el.addEventListener(t, cancel); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-long-press]").forEach(longPress);
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
    // KIOSK_AUTO_PRINT=browser: the receipt prints itself once it is drawn (silently under
    // Chromium's --kiosk-printing); the server sets the mark once per print asked for.
    if (document.querySelector("[data-auto-print]")) {
      window.addEventListener("load", function () { window.print(); });
    }
    document.querySelectorAll("[data-keypad]").forEach(keypad);
    document.querySelectorAll("[data-auto-submit]").forEach(autoReturn);
    document.querySelectorAll("[data-on-release]").forEach(onRelease);
    var idle = Number(document.body.dataset.idleSeconds || 0);
    if (idle > 0) idleReset(idle);
    var again = Number(document.body.dataset.freshenSeconds || 0);
    if (again > 0) freshen(again, document.body.dataset.freshenUrl, idle || 60);
    tick();
    setInterval(tick, 1000);
    wake();
    document.addEventListener("visibilitychange", wake);
    document.addEventListener("pointerdown", wake);
    document.addEventListener("contextmenu", function (e) { e.preventDefault(); });
    document.body.addEventListener("htmx:sendError", function () { offline(true); });
    document.body.addEventListener("htmx:timeout", function () { offline(true); });
    document.body.addEventListener("htmx:afterRequest", function (e) {
      if (e.detail.successful) offline(false);
    });
    window.addEventListener("offline", function () { offline(true); });
    window.addEventListener("online", function () { offline(false); });
  });
})();
