// Wattpay pages: the little JavaScript we need, our own. The pages work without it; with it,
// money and power actions ask in a dialog instead of a second page, and the door page shows
// the balance live over Server-Sent Events.
(function () {
  "use strict";

  // Confirm before a form that moves money: the server asks again on its own page when the
  // `confirmed` field is not 1, so without JavaScript the confirmation still happens.
  function amountOf(form) {
    var preset = form.querySelector("input[name=preset]:checked");
    var custom = form.querySelector("input[name=custom]");
    var amount = form.querySelector("input[name=amount]");
    if (amount) return amount.value.trim();
    if (custom && custom.value.trim()) return custom.value.trim();
    return preset ? preset.value : "";
  }
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var amount = amountOf(form);
      // A malformed amount goes to the server, which shows the error next to the field; power
      // forms have no amount.
      var moneyForm = form.querySelector("input[name=amount],input[name=custom],input[name=preset]");
      if (moneyForm && !/^\d+(\.\d{1,2})?$/.test(amount)) return;
      var question = form.getAttribute("data-confirm").replace("{amount}", amount);
      if (window.confirm(question)) {
        form.querySelector("input[name=confirmed]").value = "1";
      } else {
        event.preventDefault();
      }
    });
  });

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // Live balance on the door page.
  var head = document.querySelector("[data-events]");
  if (head && window.EventSource) {
    var balance = head.querySelector("[data-live=balance]");
    var power = head.querySelector("[data-live=power]");
    var restore = head.querySelector("[data-live=restore]");
    var source = new EventSource(head.getAttribute("data-events"));
    source.addEventListener("balance", function (event) {
      var data = JSON.parse(event.data);
      balance.textContent = data.balance;
      balance.parentElement.classList.toggle("negative", data.balance.charAt(0) === "-");
      var previous = power.getAttribute("data-power");
      var state = data.power;
      // Power coming back after being off is worth saying in those words.
      var shown = state === "on" && (previous === "off" || previous === "restoring" || previous === "restored")
        ? "restored" : state;
      power.setAttribute("data-power", shown);
      power.className = "power power-" + state;
      power.textContent = power.getAttribute("data-text-" + shown);
      if (data.restore_amount) {
        restore.textContent = restore.getAttribute("data-template").replace("{amount}", data.restore_amount);
        restore.hidden = false;
      } else {
        restore.hidden = true;
      }
    });
  }
})();
