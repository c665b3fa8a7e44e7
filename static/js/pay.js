// The payment page: collect the card with Stripe.js (a SetupIntent), then ask the
// server to charge the order's PaymentIntent with it; run 3-D Secure when asked.
(function () {
  "use strict";
  const form = document.getElementById("payment-form");
  if (!form) return;
  const button = document.getElementById("pay-button");
  const message = document.getElementById("payment-message");
  const stripe = Stripe(form.dataset.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const buttonText = button.textContent;

  function show(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  function busy(isBusy) {
    button.disabled = isBusy;
    button.textContent = isBusy ? "Processing…" : buttonText;
    form.setAttribute("aria-busy", String(isBusy));
  }

  const NOT_CHARGED = "Something went wrong. Nothing was charged; please try again.";
  // Once the card is confirmed we cannot know from a failed answer whether it was charged.
  const MAYBE_CHARGED = "We couldn't hear back about your payment. Please reload this page to see whether it went through before trying again.";

  async function post(url, body, fallback) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    if (!data.status) data = { status: "error", message: fallback };
    return data;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    show("");
    busy(true);
    let charging = false;
    try {
      const setup = await post(form.dataset.setupUrl, {}, NOT_CHARGED);
      if (setup.status !== "ok") {
        if (setup.redirect) { window.location.assign(setup.redirect); return; }
        show(setup.message); busy(false); return;
      }
      const result = await stripe.confirmCardSetup(setup.client_secret, {
        payment_method: { card: card, billing_details: { email: form.dataset.email, name: form.dataset.name } },
      });
      if (result.error) {
        show(result.error.message || "Your card could not be used. Please check the details.");
        busy(false);
        return;
      }
      charging = true;
      const paid = await post(form.dataset.confirmUrl, { setup_intent: result.setupIntent.id }, MAYBE_CHARGED);
      if (paid.status === "requires_action") {
        await stripe.confirmCardPayment(paid.client_secret);
        window.location.assign(paid.return_url);
        return;
      }
      if (paid.return_url) { window.location.assign(paid.return_url); return; }
      if (paid.redirect) { window.location.assign(paid.redirect); return; }
      show(paid.message);
      busy(false);
    } catch (error) {
      show(charging ? MAYBE_CHARGED : "We couldn't reach the payment service. Nothing was charged; please try again.");
      busy(false);
    }
  });
})();
