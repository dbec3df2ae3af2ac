// Behaviour the templates ask for with data- attributes, so that no page needs an inline script or handler (the
// Content-Security-Policy forbids them).

// <button data-confirm="Revoke it?">: the form is submitted only if the person confirms.
document.addEventListener("submit", (event) => {
  const message = event.submitter?.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
