// Routes to pages inside the layout.
import { Layout } from "./components/Layout.tsx";
import { Empty } from "./components/states.tsx";
import { DatanetsPage } from "./pages/Datanets.tsx";
import { JobPage } from "./pages/Job.tsx";
import { JobsPage } from "./pages/Jobs.tsx";
import { ChatPage, ModelsPage } from "./pages/Models.tsx";
import { NewJobPage } from "./pages/NewJob.tsx";
import { RewardsPage } from "./pages/Rewards.tsx";
import { Link, useRoute } from "./router.tsx";

function page(route: string[]) {
  const [first, second, third] = route;
  switch (first) {
    case undefined:
    case "datanets":
      return <DatanetsPage />;
    case "new":
      return <NewJobPage />;
    case "jobs":
      return second ? <JobPage id={second} /> : <JobsPage />;
    case "models":
      return <ModelsPage />;
    case "chat":
      return second ? (
        <ChatPage key={`${second}/${third ?? ""}`} first={second} second={third} />
      ) : (
        <ModelsPage />
      );
    case "rewards":
      return <RewardsPage />;
    default:
      return (
        <Empty>
          <p>
            No page here. <Link to="/">Go to the Datanets</Link>.
          </p>
        </Empty>
      );
  }
}

export function App() {
  const route = useRoute();
  return <Layout route={`/${route[0] ?? "datanets"}`}>{page(route)}</Layout>;
}
