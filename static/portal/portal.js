// Behaviour the templates ask for with data- attributes, so that no page needs an inline script or handler (the
// Content-Security-Policy forbids them).

// <button data-confirm="Revoke it?">: the form is submitted only if the person confirms.
document.addEventListener("submit", (event) => {
  const message = event.submitter?.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// --- Refusals -------------------------------------------------------------------------------------------------------
// htmx swaps nothing for a 4xx/5xx answer and says nothing either. A refusal is shown next to the form that asked (or
// at the top of the page for a request no form made), the page and what was typed stay as they were, and a 409 (the
// state changed under the person) offers to load the fresh state in place.

const FALLBACK_REASONS = {
  400: "The portal could not accept this.",
  403: "Your role does not allow this.",
  404: "Not found: it may have been removed.",
  409: "This changed since the page was loaded.",
  413: "That is too large.",
  429: "Too many requests: wait a moment and try again.",
};

function reasonFrom(xhr) {
  const type = xhr.getResponseHeader("Content-Type") || "";
  const body = xhr.responseText || "";
  if (type.includes("json")) {
    try {
      const detail = JSON.parse(body).detail;
      if (detail) return String(detail);
    } catch {
      // not JSON after all: fall through to the generic reason
    }
  } else if (type.includes("html")) {
    // Pages and partials state their refusal in a role="alert" element (parsing runs no script).
    const alert = new DOMParser().parseFromString(body, "text/html").querySelector("[role=alert]");
    const text = alert?.textContent.replace(/\s+/g, " ").trim();
    if (text) return text;
  } else if (body.trim() && body.length <= 1000) {
    return body.trim();
  }
  if (FALLBACK_REASONS[xhr.status]) return FALLBACK_REASONS[xhr.status];
  if (xhr.status >= 500) return `The portal failed (error ${xhr.status}); nothing is shown as done that was not. Try again.`;
  return `The portal answered ${xhr.status} ${xhr.statusText}.`;
}

function formKey(form) {
  return form.getAttribute("hx-post") || form.getAttribute("action") || "";
}

function pageAlerts() {
  return document.getElementById("page-alerts");
}

// Where a refusal goes: right after the form, or at the top of the page.
function placeRefusal(box, form) {
  if (form?.isConnected) {
    form.after(box);
  } else {
    pageAlerts()?.append(box);
  }
}

function showRefusal({ form, region, status, reason, key }) {
  const refusalKey = key || (form ? formKey(form) : "page");
  document.querySelectorAll(".refusal").forEach((old) => old.dataset.for === refusalKey && old.remove());
  const box = document.createElement("div");
  box.className = "refusal";
  box.setAttribute("role", "alert");
  box.dataset.for = refusalKey;
  box.dataset.status = String(status);
  const text = document.createElement("p");
  text.textContent = reason;
  box.append(text);
  if (status === 409) {
    const reload = document.createElement("button");
    reload.type = "button";
    reload.className = "primary";
    reload.dataset.reloadRegion = region?.id || "";
    reload.textContent = "Reload the latest";
    box.append(reload);
  }
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.className = "link";
  dismiss.dataset.dismiss = "";
  dismiss.textContent = "Dismiss";
  box.append(dismiss);
  placeRefusal(box, form);
  box.scrollIntoView({ block: "nearest" });
  return box;
}

function sourceForm(detail) {
  const elt = detail.requestConfig?.elt || detail.elt;
  return elt?.closest?.("form") || null;
}

document.addEventListener("htmx:beforeRequest", (event) => {
  const form = sourceForm(event.detail);
  if (form) {
    document.querySelectorAll(".refusal").forEach((old) => old.dataset.for === formKey(form) && old.remove());
  }
});

document.addEventListener("htmx:beforeSwap", (event) => {
  const detail = event.detail;
  if (detail.xhr.status < 400) return;
  detail.shouldSwap = false;
  detail.isError = false; // handled here: htmx need not log it as an unhandled error
  const form = sourceForm(detail);
  const live = detail.requestConfig?.elt?.hasAttribute?.("data-live");
  showRefusal({
    form: live ? null : form,
    region: detail.target,
    status: detail.xhr.status,
    reason: (live ? "Live updates paused: " : "") + reasonFrom(detail.xhr),
    key: live ? "live" : undefined,
  });
});

document.addEventListener("htmx:sendError", (event) => {
  const live = event.detail.requestConfig?.elt?.hasAttribute?.("data-live");
  showRefusal({
    form: live ? null : sourceForm(event.detail),
    status: 0,
    reason: live
      ? "Live updates paused: the portal cannot be reached. Retrying."
      : "The portal could not be reached, so this may not have been saved. Check the connection and try again.",
    key: live ? "live" : undefined,
  });
});

document.addEventListener("click", (event) => {
  const button = event.target.closest?.(".refusal button");
  if (!button) return;
  const box = button.closest(".refusal");
  if (button.hasAttribute("data-dismiss")) {
    box.remove();
    return;
  }
  const region = button.dataset.reloadRegion && document.getElementById(button.dataset.reloadRegion);
  box.remove();
  if (!region) {
    window.location.reload();
    return;
  }
  // The page's own URL answers htmx with its partial; select keeps only the region either way.
  htmx.ajax("GET", window.location.href, { target: region, swap: "outerHTML", select: `#${region.id}` });
});

// --- Keeping what people typed ------------------------------------------------------------------------------------
// A swap (a live update, another form's answer) re-renders forms. What the person had typed or chosen, and where the
// cursor was, is carried into the new forms, except in the form whose own answer this is. Hidden inputs (versions,
// CSRF tokens) always take the new values.

function editedFields(root, except) {
  const kept = new Map();
  root.querySelectorAll("form").forEach((form) => {
    if (form === except) return;
    for (const field of form.elements) {
      if (!field.name || field.type === "hidden" || field.type === "submit" || field.type === "button") continue;
      const key = `${formKey(form)}|${field.name}|${field.type === "checkbox" || field.type === "radio" ? field.value : ""}`;
      if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked) kept.set(key, { checked: field.checked });
      } else if (field.tagName === "SELECT") {
        const changed = [...field.options].some((option) => option.selected !== option.defaultSelected);
        if (changed) kept.set(key, { selected: [...field.selectedOptions].map((option) => option.value) });
      } else if (field.value !== field.defaultValue) {
        kept.set(key, { value: field.value });
      }
      if (field === document.activeElement) {
        kept.set("focus", { key, start: field.selectionStart, end: field.selectionEnd });
      }
    }
  });
  return kept;
}

function restoreFields(root, kept) {
  const focus = kept.get("focus");
  root.querySelectorAll("form").forEach((form) => {
    for (const field of form.elements) {
      if (!field.name) continue;
      const key = `${formKey(form)}|${field.name}|${field.type === "checkbox" || field.type === "radio" ? field.value : ""}`;
      const state = kept.get(key);
      if (state?.checked !== undefined) field.checked = state.checked;
      if (state?.selected) [...field.options].forEach((option) => { option.selected = state.selected.includes(option.value); });
      if (state?.value !== undefined) field.value = state.value;
      if (focus?.key === key) {
        field.focus();
        if (focus.start !== null && field.setSelectionRange) field.setSelectionRange(focus.start, focus.end);
      }
    }
  });
}

let pendingRestore = null;

document.addEventListener("htmx:beforeSwap", (event) => {
  const detail = event.detail;
  if (!detail.shouldSwap || !detail.target) return;
  const source = sourceForm(detail);
  // Refusals about other forms stay up: the person has not read them yet.
  const refusals = [...detail.target.querySelectorAll(".refusal")].filter(
    (box) => !source || box.dataset.for !== formKey(source),
  );
  pendingRestore = { fields: editedFields(detail.target, source), refusals, live: detail.requestConfig?.elt?.hasAttribute?.("data-live") };
});

document.addEventListener("htmx:afterSwap", () => {
  if (!pendingRestore) return;
  const { fields, refusals, live } = pendingRestore;
  pendingRestore = null;
  restoreFields(document, fields);
  for (const box of refusals) {
    const form = [...document.querySelectorAll("form")].find((candidate) => formKey(candidate) === box.dataset.for);
    placeRefusal(box, form);
  }
  if (live) document.querySelectorAll('.refusal[data-for="live"]').forEach((box) => box.remove());
});

// A disclosure the person opened (<details id=…>, e.g. "Edit details") stays open when its region is swapped, unless
// the swap is the answer to the form inside it (saved: done with it).
let openDetails = [];
document.addEventListener("htmx:beforeSwap", (event) => {
  if (!event.detail.shouldSwap || !event.detail.target) return;
  const source = sourceForm(event.detail);
  openDetails = [...event.detail.target.querySelectorAll("details[id][open]")]
    .filter((details) => !source || !details.contains(source))
    .map((details) => details.id);
});
document.addEventListener("htmx:afterSwap", () => {
  openDetails.forEach((id) => document.getElementById(id)?.setAttribute("open", ""));
  openDetails = [];
});

// --- Live regions -------------------------------------------------------------------------------------------------
// Elements marked data-live poll with hx-trigger="every …"; a hidden tab does not poll, and catches up when shown.
// Nor does a page showing a next step the portal asked for (data-next-step: confirming an early resolve, writing the
// final public update): only the answer that asked holds it, and a live update would redraw it away, typing and all.
document.addEventListener("htmx:beforeRequest", (event) => {
  if (!event.detail.elt?.hasAttribute?.("data-live")) return;
  if (document.hidden || document.querySelector("[data-next-step]")) event.preventDefault();
});
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) document.querySelectorAll("[data-live]").forEach((elt) => htmx.trigger(elt, "portal:visible"));
});

// --- Timers -------------------------------------------------------------------------------------------------------
// <span class="timer" data-due="ISO" data-label="Acknowledge">: counted down in the browser between refreshes, in the
// words the server uses (portal_tags.timer).

function duration(seconds) {
  const minutes = Math.floor(Math.abs(seconds) / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = String(minutes % 60).padStart(2, "0");
  return hours < 48 ? `${hours} h ${rest} min` : `${Math.floor(hours / 24)} d`;
}

function tickTimers() {
  const now = Date.now();
  document.querySelectorAll(".timer[data-due]").forEach((timer) => {
    const seconds = (Date.parse(timer.dataset.due) - now) / 1000;
    const label = timer.dataset.label || "";
    const overdue = seconds < 0;
    const text = `${label} ${overdue ? "overdue by" : "due in"} ${duration(seconds)}`.trim();
    if (timer.textContent !== text) timer.textContent = text;
    timer.classList.toggle("overdue", overdue);
    timer.classList.toggle("soon", !overdue && seconds < 300);
  });
}

tickTimers();
setInterval(tickTimers, 1000);
document.addEventListener("htmx:afterSettle", tickTimers);

// --- Phone navigation ---------------------------------------------------------------------------------------------
document.addEventListener("click", (event) => {
  const toggle = event.target.closest?.(".menu-toggle");
  if (!toggle) return;
  const open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", String(open));
  toggle.closest(".topbar").classList.toggle("menu-open", open);
});

// --- Scrolling tables ---------------------------------------------------------------------------------------------
// A table wider than its card scrolls inside it (on a phone): it takes keyboard focus so it can be scrolled without
// a pointer, and says what it is.
function focusableScrollers() {
  document.querySelectorAll(".table").forEach((table) => {
    if (table.scrollWidth > table.clientWidth + 1) {
      table.tabIndex = 0;
    } else {
      table.removeAttribute("tabindex");
    }
  });
}
focusableScrollers();
window.addEventListener("resize", focusableScrollers);
document.addEventListener("htmx:afterSettle", focusableScrollers);

// --- Recurrence picker ----------------------------------------------------------------------------------------------
// <fieldset class="recurrence-picker" data-rrule-for="id_rrule">: weekly on weekdays, or monthly on the nth weekday,
// written into the RRULE input (which stays editable; the server validates it).
function pickedRrule(picker) {
  const part = (name) => [...picker.querySelectorAll(`[data-part="${name}"]`)];
  const freq = part("freq")[0].value;
  picker.dataset.freq = freq;
  if (freq === "WEEKLY") {
    const days = part("day").filter((box) => box.checked).map((box) => box.value);
    return days.length ? `FREQ=WEEKLY;BYDAY=${days.join(",")}` : "FREQ=WEEKLY";
  }
  if (freq === "MONTHLY") return `FREQ=MONTHLY;BYDAY=${part("nth")[0].value}${part("weekday")[0].value}`;
  return null;
}
document.addEventListener("change", (event) => {
  const picker = event.target.closest?.(".recurrence-picker");
  if (!picker) return;
  const rrule = pickedRrule(picker);
  const input = document.getElementById(picker.dataset.rruleFor);
  if (rrule !== null && input) input.value = rrule;
});

// --- Status updates -------------------------------------------------------------------------------------------------
// <textarea data-drafts='{"investigating": "…"}'> in a form with a select named label: choosing another status swaps
// in that status's draft, unless the person has written their own text. The change refreshes the preview.
document.addEventListener("change", (event) => {
  const select = event.target;
  if (select.name !== "label" || !select.form) return;
  const text = select.form.querySelector("textarea[data-drafts]");
  if (!text) return;
  const drafts = JSON.parse(text.dataset.drafts);
  const untouched = !text.value.trim() || Object.values(drafts).includes(text.value.trim());
  if (untouched && drafts[select.value]) {
    text.value = drafts[select.value];
    text.dispatchEvent(new Event("change", { bubbles: true }));
  }
});
