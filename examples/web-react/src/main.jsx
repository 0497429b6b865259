// A React 19 host as people write one: the widget is a custom element with
// an inline `options` object (a new object and a new arrow function on
// every render), and the app re-renders every second. The widget must keep
// its open panel, its shown ask and its one impression through all of it.
import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { track } from "@referral-sdk/widget";

function App() {
  const [seconds, setSeconds] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setSeconds((s) => s + 1), 1000);
    return () => clearInterval(timer);
  }, []);
  return (
    <main>
      <h1>Acme Analytics</h1>
      <p id="clock" data-seconds={seconds}>
        Open for {seconds} s
      </p>
      <referral-widget
        options={{
          codeUrl: "/api/code",
          shareBaseUrl: "https://app.example.com/join",
          referrerName: "Anna",
          product: "Acme",
          reward: "You both get a month free.",
          eventsUrl: "/api/events",
          nudgeConfigUrl: "/api/nudge-config",
          userId: "react-user",
          userToken: () => "token-from-the-host",
        }}
      />
      <button type="button" id="onboarded" onClick={() => track("onboarding_completed")}>
        Finish onboarding
      </button>
      <button type="button" id="report" onClick={() => track("report_generated")}>
        Generate report
      </button>
    </main>
  );
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
