import { type ComponentChildren, render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { BuilderPage } from "./builder";
import { ComparePage } from "./compare";
import { RunPage } from "./run-page";
import { RunsPage } from "./runs-page";

/** Hash routes: #/runs, #/run/ID, #/compare/A/B, #/builder?file=PATH. */
function useRoute(): string {
  const [hash, setHash] = useState(location.hash || "#/runs");
  useEffect(() => {
    const on = () => setHash(location.hash || "#/runs");
    addEventListener("hashchange", on);
    // A hash changed between the first render and this effect fired no event we could hear.
    on();
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
}

function App() {
  const route = useRoute();
  const [path, query = ""] = route.slice(1).split("?");
  const parts = (path ?? "").split("/").filter(Boolean).map(decodeURIComponent);
  let page: ComponentChildren;
  if (parts[0] === "run" && parts[1]) page = <RunPage id={parts[1]} key={parts[1]} />;
  else if (parts[0] === "compare" && parts[1] && parts[2]) page = <ComparePage a={parts[1]} b={parts[2]} />;
  else if (parts[0] === "builder") {
    // Another file in the address is another builder (its state starts afresh).
    const file = new URLSearchParams(query).get("file") ?? "";
    page = <BuilderPage file={file} key={file} />;
  } else page = <RunsPage />;
  const active = parts[0] === "builder" ? "builder" : "runs";
  return (
    <>
      <header class="top">
        <strong>silico studio</strong>
        <nav>
          <a href="#/builder" class={active === "builder" ? "on" : ""}>
            Builder
          </a>
          <a href="#/runs" class={active === "runs" ? "on" : ""}>
            Runs
          </a>
        </nav>
      </header>
      <main>{page}</main>
    </>
  );
}

render(<App />, document.getElementById("app") as HTMLElement);
