// Progressive enhancement of a quiz attempt: answers are saved as you go, and the time left is shown.
// Without this script the page still works: "Save answers" and "Submit for grading" are ordinary buttons.
(function () {
  "use strict";
  var form = document.getElementById("attempt-form");
  if (!form) { return; }
  var statusBox = document.querySelector("[data-autosave-status]");
  var pending = {};
  var timer = null;

  function say(text) { if (statusBox) { statusBox.textContent = text; } }

  function answerOf(li) {
    var qid = li.getAttribute("data-question");
    var base = "q-" + qid;
    var inputs = li.querySelectorAll("input, select");
    var radios = li.querySelectorAll('input[type="radio"]');
    var boxes = li.querySelectorAll('input[type="checkbox"]');
    if (radios.length) {
      var chosen = li.querySelector('input[type="radio"]:checked');
      return chosen ? chosen.value : null;
    }
    if (boxes.length) {
      return Array.prototype.filter.call(boxes, function (b) { return b.checked; })
        .map(function (b) { return b.value; });
    }
    var selects = li.querySelectorAll("select");
    if (selects.length) {
      var parts = {};
      Array.prototype.forEach.call(selects, function (s) { parts[s.name.slice(base.length + 2)] = s.value; });
      return parts;
    }
    return inputs.length ? inputs[0].value : null;
  }

  function flush() {
    timer = null;
    var answers = pending;
    pending = {};
    if (!Object.keys(answers).length) { return; }
    say("Saving…");
    fetch(form.getAttribute("data-api"), {
      method: "PUT",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": form.getAttribute("data-csrf")},
      body: JSON.stringify({answers: answers})
    }).then(function (response) {
      if (response.ok) {
        say("All answers saved at " + new Date().toLocaleTimeString() + ".");
      } else if (response.status === 409) {
        say("This attempt has closed. Reloading…");
        window.location.reload();
      } else {
        return response.json().then(function (problem) {
          say("Not saved: " + (problem.detail || response.statusText) + " Use “Save answers” to try again.");
        });
      }
    }).catch(function () {
      // Offline for a moment: keep the answers and try again shortly; nothing is lost.
      Object.keys(answers).forEach(function (k) { if (!(k in pending)) { pending[k] = answers[k]; } });
      say("Connection lost; your answers will be saved when it is back.");
      schedule(5000);
    });
  }

  function schedule(delay) {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(flush, delay);
  }

  form.addEventListener("change", function (event) {
    var li = event.target.closest("[data-question]");
    if (!li) { return; }
    pending[li.getAttribute("data-question")] = answerOf(li);
    schedule(600);
  });
  form.addEventListener("input", function (event) {
    if (event.target.type !== "text") { return; }
    var li = event.target.closest("[data-question]");
    pending[li.getAttribute("data-question")] = answerOf(li);
    schedule(1500);
  });
  window.addEventListener("online", function () { schedule(100); });

  var clock = document.querySelector(".countdown[data-deadline]");
  if (clock) {
    var deadline = Date.parse(clock.getAttribute("data-deadline"));
    clock.hidden = false;
    var warned = false;
    var tick = function () {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      var minutes = Math.floor(left / 60), seconds = left % 60;
      clock.textContent = "Time left: " + minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
      if (left <= 60 && !warned) {
        warned = true;
        clock.setAttribute("aria-live", "assertive");
        say("One minute left. Your saved answers count even if time runs out.");
      }
      if (left === 0) {
        clearInterval(handle);
        // Time is up: hand in what is on the page (answers within the grace period still count).
        say("Time is up. Submitting your answers…");
        form.setAttribute("action", form.getAttribute("data-submit"));
        form.submit();
      }
    };
    var handle = setInterval(tick, 1000);
    tick();
  }
}());
