// The coder workbench's own script: evidence lighting, keyboard, code picking and selection of
// evidence in the note. No inline script anywhere (the pages' CSP forbids it); nothing is kept
// in localStorage or sessionStorage.
(function () {
  "use strict";

  let currentId = null;

  function cards() {
    return Array.from(document.querySelectorAll("#suggestions .sugg"));
  }

  function marksOf(id) {
    return document.querySelectorAll('#note-text mark[data-s~="' + id + '"]');
  }

  function light(id, on) {
    marksOf(id).forEach(function (m) { m.classList.toggle("lit", on); });
  }

  function cardOf(node) {
    return node && node.closest ? node.closest(".sugg") : null;
  }

  function typing(target) {
    return target && (target.isContentEditable ||
      ["INPUT", "TEXTAREA", "SELECT"].indexOf(target.tagName) >= 0);
  }

  function current() {
    const card = cardOf(document.activeElement);
    if (card) { return card; }
    return currentId ? document.getElementById("s-" + currentId) : null;
  }

  function focusCard(card) {
    if (!card) { return; }
    card.focus();
    card.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const all = cards().filter(function (c) { return c.offsetParent !== null; });
    if (!all.length) { return; }
    const at = all.indexOf(current());
    const next = at < 0 ? (step > 0 ? 0 : all.length - 1) :
      Math.min(all.length - 1, Math.max(0, at + step));
    focusCard(all[next]);
  }

  function open(card, which, field) {
    if (!card) { return; }
    const details = card.querySelector("details." + which);
    if (!details) { return; }
    details.open = true;
    const input = details.querySelector(field);
    if (input) { input.focus(); }
  }

  // Python counts code points; the DOM counts UTF-16 units.
  function points(text) { return Array.from(text).length; }

  function offsetOf(node, off) {
    if (node.nodeType === Node.TEXT_NODE) {
      const el = node.parentElement;
      if (!el || el.dataset.o === undefined) { return null; }
      return Number(el.dataset.o) + points(node.data.slice(0, off));
    }
    if (node.dataset && node.dataset.o !== undefined) {
      return Number(node.dataset.o) + (off > 0 ? points(node.textContent) : 0);
    }
    if (node.id === "note-text") {
      const child = node.childNodes[off];
      if (child && child.dataset) { return Number(child.dataset.o); }
      const last = node.lastElementChild;
      return last ? Number(last.dataset.o) + points(last.textContent) : 0;
    }
    return null;
  }

  function noteSelection() {
    const form = document.getElementById("add-form");
    const text = document.getElementById("note-text");
    const sel = window.getSelection();
    if (!form || !text || !sel || sel.rangeCount === 0 || sel.isCollapsed) { return; }
    const range = sel.getRangeAt(0);
    if (!text.contains(range.startContainer) || !text.contains(range.endContainer)) { return; }
    const start = offsetOf(range.startContainer, range.startOffset);
    const end = offsetOf(range.endContainer, range.endOffset);
    if (start === null || end === null || end <= start) { return; }
    form.elements.start.value = String(start);
    form.elements.end.value = String(end);
    const words = sel.toString().trim();
    document.getElementById("selection-info").textContent =
      "Evidence: characters " + start + "–" + end + " selected.";
    const q = document.getElementById("add-q");
    q.value = words.slice(0, 200);
    htmx.trigger(q, "input");
  }

  document.addEventListener("focusin", function (ev) {
    const card = cardOf(ev.target);
    if (card) { currentId = card.dataset.id; light(card.dataset.id, true); }
  });
  document.addEventListener("focusout", function (ev) {
    const card = cardOf(ev.target);
    if (card) { light(card.dataset.id, false); }
  });
  document.addEventListener("mouseover", function (ev) {
    const card = cardOf(ev.target);
    if (card) { light(card.dataset.id, true); }
  });
  document.addEventListener("mouseout", function (ev) {
    const card = cardOf(ev.target);
    if (card && !card.contains(ev.relatedTarget)) {
      light(card.dataset.id, card.contains(document.activeElement));
    }
  });

  document.addEventListener("click", function (ev) {
    const mark = ev.target.closest ? ev.target.closest("#note-text mark") : null;
    if (mark && window.getSelection().isCollapsed) {
      const ids = mark.dataset.s.split(" ");
      cards().forEach(function (c) {
        c.classList.toggle("selected", ids.indexOf(c.dataset.id) >= 0);
      });
      focusCard(document.getElementById("s-" + ids[0]));
      return;
    }
    const pick = ev.target.closest ? ev.target.closest("button.pick") : null;
    if (pick) {
      const form = pick.closest("form");
      form.elements.code.value = pick.dataset.code;
      form.elements.system.value = pick.dataset.system;
      form.querySelector(".chosen").textContent = "Chosen: " + pick.textContent.trim();
      const submit = form.querySelector(".pick-submit");
      submit.disabled = false;
      submit.focus();
      return;
    }
    if (ev.target.closest && ev.target.closest(".help-open")) {
      document.getElementById("help").showModal();
    }
  });

  document.addEventListener("mouseup", function (ev) {
    if (ev.target.closest && ev.target.closest("#note-text")) { noteSelection(); }
  });
  document.addEventListener("keyup", function (ev) {
    if (ev.shiftKey && document.activeElement === document.body) { noteSelection(); }
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (ev.key === "Escape") {
      const details = ev.target.closest ? ev.target.closest("details[open]") : null;
      if (details) { details.open = false; focusCard(cardOf(details)); }
      return;
    }
    if (typing(ev.target)) { return; }
    const help = document.getElementById("help");
    if (help && help.open) { return; }
    const handlers = {
      j: function () { move(1); },
      k: function () { move(-1); },
      a: function () {
        const card = current();
        const button = card && card.querySelector(".f-accept button");
        if (button) { button.click(); }
      },
      r: function () { open(current(), "d-reject", "input[name=reason]"); },
      e: function () { open(current(), "d-replace", "input.code-q"); },
      "/": function () {
        const q = document.getElementById("add-q");
        if (q) { q.focus(); }
      },
      "?": function () { if (help) { help.showModal(); } },
    };
    const handler = handlers[ev.key];
    if (handler) { ev.preventDefault(); handler(); }
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (currentId && !cardOf(document.activeElement)) {
      const card = document.getElementById("s-" + currentId);
      if (card && !document.activeElement.closest("#add-code")) { focusCard(card); }
    }
  });
  document.addEventListener("htmx:afterRequest", function (ev) {
    const form = ev.detail.elt;
    if (form && form.id === "add-form" && ev.detail.successful) {
      form.reset();
      form.querySelector(".pick-submit").disabled = true;
      form.querySelector(".chosen").textContent = "No code chosen yet.";
      document.getElementById("add-results").textContent = "";
      document.getElementById("selection-info").textContent =
        "Select words in the note to use them as evidence, then search.";
    }
  });
})();
