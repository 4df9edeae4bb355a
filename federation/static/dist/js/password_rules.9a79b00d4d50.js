// The password checklist of « Choisir mon mot de passe » (idp/templates/transition_password.html),
// updated while the parent types. It mirrors idp/domain/password_policy.py: at least 8 characters
// (128 at most), 3 of 4 classes (lowercase, uppercase, digit, one of the listed specials; any other
// character is accepted and counts for none), not the identifier, both fields equal, all in NFC. The server check stays the truth; without this
// script the page shows the same rules and the server marks them after « Confirmer ».
(function () {
  "use strict";
  var MIN_LENGTH = 8;
  var MAX_LENGTH = 128;
  var CLASSES_REQUIRED = 3;
  var SPECIALS = "!?@#$(){}[]_&+-%^*<>£µ/;,";
  var LETTER = /\p{L}/u;
  var LOWERCASE = /\p{Lowercase}/u;
  var UPPERCASE = /\p{Uppercase}/u;
  var STATES = ["fr-message--info", "fr-message--valid", "fr-message--error"];
  var SAID = { "fr-message--info": "à vérifier", "fr-message--valid": "respecté", "fr-message--error": "non respecté" };

  // Same order as password_policy.character_classes: µ is a special before it is a letter.
  function classOf(c) {
    if (c >= "0" && c <= "9") { return "chiffre"; }
    if (SPECIALS.indexOf(c) >= 0) { return "special"; }
    if (LETTER.test(c) && LOWERCASE.test(c)) { return "minuscule"; }
    if (LETTER.test(c) && UPPERCASE.test(c)) { return "majuscule"; }
    return null;
  }

  function evaluate(typed, typedConfirmation, identifier) {
    var tooLong = Array.from(typed).length > MAX_LENGTH; // code points, as Python's len()
    var password = typed.normalize("NFC");
    var confirmation = typedConfirmation.normalize("NFC");
    var chars = Array.from(password);
    var classes = {};
    chars.forEach(function (c) {
      var found = classOf(c);
      if (found) { classes[found] = true; }
    });
    return {
      empty: chars.length === 0,
      tooLong: tooLong || chars.length > MAX_LENGTH,
      longEnough: chars.length >= MIN_LENGTH,
      classes: classes,
      classCount: Object.keys(classes).length,
      isIdentifier: identifier !== "" && password.toLowerCase() === identifier.normalize("NFC").toLowerCase(),
      confirmationTyped: Array.from(confirmation).length >= chars.length && confirmation !== "",
      same: password === confirmation
    };
  }

  // The failed rules, with the codes and in the order of password_policy.check_password (the
  // browser tests compare the two on the same samples).
  function failures(password, confirmation, identifier) {
    var r = evaluate(password, confirmation, identifier);
    if (r.tooLong) { return ["trop_long"]; }
    if (r.empty) { return ["vide"]; }
    var failed = [];
    if (!r.longEnough) { failed.push("longueur"); }
    if (r.classCount < CLASSES_REQUIRED) { failed.push("criteres"); }
    if (r.isIdentifier) { failed.push("identifiant"); }
    if (!r.same) { failed.push("confirmation"); }
    return failed;
  }
  window.educonnectPasswordRule = { failures: failures };

  function show(item, state) {
    if (!item) { return; }
    STATES.forEach(function (s) { item.classList.remove(s); });
    item.classList.add(state);
    var said = item.querySelector(".fr-sr-only");
    if (said) { said.textContent = " – " + SAID[state]; }
  }

  function pick(ok, bad) {
    if (bad) { return "fr-message--error"; }
    return ok ? "fr-message--valid" : "fr-message--info";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var password = document.getElementById("mot_de_passe");
    var confirmation = document.getElementById("confirmation");
    var status = document.getElementById("etat-regle");
    if (!password || !confirmation) { return; }
    var identifier = password.getAttribute("data-identifier") || "";
    var rule = function (name) { return document.querySelector('[data-rule="' + name + '"]'); };
    var wasValid = false;

    function update() {
      var r = evaluate(password.value, confirmation.value, identifier);
      show(rule("longueur"), pick(r.longEnough && !r.tooLong, r.tooLong));
      show(rule("criteres"), pick(r.classCount >= CLASSES_REQUIRED, false));
      ["minuscule", "majuscule", "chiffre", "special"].forEach(function (name) {
        show(rule(name), pick(Boolean(r.classes[name]), false));
      });
      show(rule("identifiant"), pick(!r.empty && !r.isIdentifier, r.isIdentifier));
      show(rule("confirmation"), pick(!r.empty && r.same, r.confirmationTyped && !r.same));
      var valid = r.longEnough && !r.tooLong && r.classCount >= CLASSES_REQUIRED && !r.isIdentifier &&
        r.same;
      if (status && valid !== wasValid) {
        status.textContent = valid ? "Le mot de passe respecte la règle et les deux saisies sont identiques." : "";
      }
      wasValid = valid;
    }

    // Only on typing: after a refused submission the server's marks stay until the parent types.
    password.addEventListener("input", update);
    confirmation.addEventListener("input", update);

    var toggle = document.getElementById("afficher-mots-de-passe");
    var group = document.getElementById("afficher");
    if (toggle && group) {
      group.hidden = false;
      toggle.addEventListener("change", function () {
        var type = toggle.checked ? "text" : "password";
        password.type = type;
        confirmation.type = type;
      });
    }
  });
}());
