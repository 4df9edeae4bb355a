// A form is sent once: a second click or tap on « Se connecter », « VALIDER » or « Confirmer »
// while the first answer is on its way would reach the server with the session the first one
// replaces at sign-in, and get « Le formulaire a expiré ». After 10 s the parent may send it again
// (a stalled connection), and Back to a page the browser kept re-enables its forms.
(function () {
  "use strict";
  var AGAIN_AFTER_MS = 10000;
  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; } // refused by the page's own check: not sent
    var form = event.target;
    var sentAt = Number(form.getAttribute("data-envoye-a") || 0);
    if (sentAt && Date.now() - sentAt < AGAIN_AFTER_MS) {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-envoye-a", String(Date.now()));
  });
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("form[data-envoye-a]").forEach(function (form) {
      form.removeAttribute("data-envoye-a");
    });
  });
}());
