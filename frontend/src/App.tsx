// Routes to pages inside the layout. Each page is its own chunk, loaded when its route is first shown.
import { lazy, Suspense } from "react";
import { Layout } from "./components/Layout.tsx";
import { Empty, Loading, PageBoundary } from "./components/states.tsx";
import { Link, useRoute } from "./router.tsx";

const DatanetsPage = lazy(() => import("./pages/Datanets.tsx").then((m) => ({ default: m.DatanetsPage })));
const CreateDatanetPage = lazy(() =>
  import("./pages/CreateDatanet.tsx").then((m) => ({ default: m.CreateDatanetPage })),
);
const DatanetPage = lazy(() => import("./pages/Datanet.tsx").then((m) => ({ default: m.DatanetPage })));
const NewJobPage = lazy(() => import("./pages/NewJob.tsx").then((m) => ({ default: m.NewJobPage })));
const JobPage = lazy(() => import("./pages/Job.tsx").then((m) => ({ default: m.JobPage })));
const JobsPage = lazy(() => import("./pages/Jobs.tsx").then((m) => ({ default: m.JobsPage })));
const ModelsPage = lazy(() => import("./pages/Models.tsx").then((m) => ({ default: m.ModelsPage })));
const ChatPage = lazy(() => import("./pages/Models.tsx").then((m) => ({ default: m.ChatPage })));
const TrainerPage = lazy(() => import("./pages/Trainer.tsx").then((m) => ({ default: m.TrainerPage })));
const RewardsPage = lazy(() => import("./pages/Rewards.tsx").then((m) => ({ default: m.RewardsPage })));

function page(route: string[]) {
  const [first, second, third] = route;
  switch (first) {
    case undefined:
    case "datanets":
      if (second === "new") return <CreateDatanetPage />;
      return second ? <DatanetPage id={second} /> : <DatanetsPage />;
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
    case "trainers":
      return <TrainerPage />;
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
  return (
    <Layout route={`/${route[0] ?? "datanets"}`}>
      <PageBoundary key={route.join("/")}>
        <Suspense fallback={<Loading what="the page" />}>{page(route)}</Suspense>
      </PageBoundary>
    </Layout>
  );
}
