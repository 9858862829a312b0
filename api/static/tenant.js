// Paying inside WeChat: hands the JSAPI parameters our server signed to WeChat's payment sheet
// (WeixinJSBridge, which only WeChat's own browser provides), then back to the door page,
// which shows the new balance live. Our own script; no WeChat SDK file is loaded.
(function () {
  "use strict";
  var box = document.getElementById("jsapi");
  if (!box) return;
  var params = JSON.parse(box.getAttribute("data-params"));
  var message = document.getElementById("jsapi-message");
  function say(key) {
    message.textContent = box.getAttribute("data-text-" + key);
    message.hidden = false;
  }
  function pay() {
    if (typeof window.WeixinJSBridge === "undefined") {
      say("nobridge");
      return;
    }
    window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, function (res) {
      var result = res && res.err_msg;
      if (result === "get_brand_wcpay_request:ok") {
        // WeChat says paid; the door page follows the balance until the notification lands.
        window.location.href = box.getAttribute("data-done");
      } else if (result === "get_brand_wcpay_request:cancel") {
        say("cancel");
      } else {
        say("fail");
      }
    });
  }
  document.getElementById("jsapi-pay").addEventListener("click", pay);
  if (typeof window.WeixinJSBridge === "undefined") {
    document.addEventListener("WeixinJSBridgeReady", pay, false);
  } else {
    pay();
  }
})();
