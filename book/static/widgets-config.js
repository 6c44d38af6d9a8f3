// Point require.js at the local copy of the widget manager, so that its
// fonts load from this site instead of a CDN.
(function () {
  var base = document.currentScript.src.replace(
    /widgets-config\.js.*$/,
    "jupyter-widgets"
  );
  require.config({ paths: { "@jupyter-widgets/html-manager/dist": base } });
})();
