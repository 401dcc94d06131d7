// Mounts Swagger UI on the API reference page. Kept in its own file: the CSP forbids inline scripts.
window.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("swagger-ui");
  if (!el || typeof window.SwaggerUIBundle !== "function") return;
  window.SwaggerUIBundle({ url: el.dataset.specUrl, domNode: el, deepLinking: true });
});
