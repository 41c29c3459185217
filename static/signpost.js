// Signpost's own script, loaded as a module with the page's CSP nonce (static imports inherit it).

import { initAll } from "./vendor/govuk/govuk-frontend.min.js";

initAll();

// htmx requests change state with the same CSRF protection as forms: the token that the page
// carries in <meta name="csrf-token"> goes in the X-CSRFToken header, the one Litestar checks.
document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) {
    event.detail.headers["X-CSRFToken"] = meta.content;
  }
});

// A fragment htmx swaps in gets GOV.UK Frontend's behaviour too (an error summary takes focus).
document.addEventListener("htmx:afterSwap", (event) => {
  initAll({ scope: event.detail.elt });
});

// A "Print this page" button, hidden without JavaScript (the page says to use the browser's Print).
for (const button of document.querySelectorAll("[data-signpost-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
