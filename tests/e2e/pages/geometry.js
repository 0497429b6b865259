// Geometry host: ?dir=rtl, ?floating=1, ?locale=…, ?user=… set on the widget.
const params = new URLSearchParams(location.search);
const widget = document.querySelector("referral-widget");
if (params.get("dir") === "rtl") document.documentElement.dir = "rtl";
if (params.get("locale")) widget.setAttribute("locale", params.get("locale"));
if (params.get("floating") === "1") widget.options = { floating: true };
widget.setAttribute("user-id", params.get("user") || `geo-${Math.random()}`);
