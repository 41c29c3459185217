// The security-key step: the one part of Signpost that needs JavaScript.
// It uses the browser's WebAuthn Level 3 JSON helpers, and says plainly when they are missing.

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body),
  });
  let payload = {};
  try {
    payload = await response.json();
  } catch {
    payload = {};
  }
  if (!response.ok) {
    throw new Error(payload.error || payload.title || "Signpost could not complete that. Try again.");
  }
  return payload;
}

function supported() {
  return (
    window.PublicKeyCredential !== undefined &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function"
  );
}

async function register() {
  const options = await postJSON("/auth/register/options", {});
  const credential = await navigator.credentials.create({
    publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
  });
  return postJSON("/auth/register/verify", credential.toJSON());
}

async function signIn() {
  const email = document.getElementById("email")?.value.trim();
  const options = await postJSON("/auth/login/options", email ? { email } : {});
  const credential = await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
  });
  return postJSON("/auth/login/verify", credential.toJSON());
}

function say(status, message) {
  status.textContent = message;
  status.hidden = false;
  status.focus?.();
}

for (const button of document.querySelectorAll("[data-webauthn]")) {
  const status = document.getElementById(button.dataset.status);
  if (!supported()) {
    button.disabled = true;
    say(status, "This browser cannot use security keys. Use an up-to-date Chrome, Edge, Firefox or Safari.");
    continue;
  }
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.hidden = true;
    try {
      const result = button.dataset.webauthn === "register" ? await register() : await signIn();
      window.location.assign(button.dataset.next || result.redirect);
    } catch (error) {
      const cancelled = error instanceof DOMException;
      say(
        status,
        cancelled
          ? "Your security key did not respond, or the request was cancelled. Try again."
          : error.message,
      );
      button.disabled = false;
    }
  });
}
