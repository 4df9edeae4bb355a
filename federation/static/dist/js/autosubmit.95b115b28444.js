// Submits the SAML HTTP-POST form once the page is loaded (no inline script: strict CSP).
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("saml-post");
  if (form) { form.submit(); }
});
