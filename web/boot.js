// The page's boot check, a plain script of its own (the server's Content-Security-Policy allows no inline script):
// it runs even when the bundle cannot load (dist/ not built) and says what to do.
(function () {
  var box = document.getElementById('boot-problem');
  function show(text) {
    box.textContent = text;
    box.hidden = false;
  }
  setTimeout(function () {
    if (document.documentElement.dataset.lab !== 'ready')
      show(
        'The lab script (dist/lab.js) did not start. Build it with `npm run build`, then reload; the browser console says what failed.',
      );
  }, 4000);
})();
