// The connected account's jobs, newest first (subgraph).
import { useQuery } from "@tanstack/react-query";
import { useWallet } from "../wallet.tsx";
import { ConnectFirst } from "../components/Layout.tsx";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { formatOpen, formatTime } from "../lib/format.ts";
import { gql, JobsQuery } from "../lib/subgraph.ts";
import { useProtocol } from "../protocol.tsx";
import { Link } from "../router.tsx";

export function JobsPage() {
  const { config } = useProtocol();
  const { address } = useWallet();
  const jobs = useQuery({
    queryKey: ["my-jobs", address],
    enabled: Boolean(address),
    refetchInterval: 5000,
    queryFn: async () =>
      (
        await gql(config.proxied.subgraph, JobsQuery, {
          first: 100,
          where: { poster: address!.toLowerCase() },
        })
      ).jobs,
  });
  if (!address) return <ConnectFirst what="see your jobs" />;
  if (jobs.isPending) return <Loading what="your jobs" />;
  if (jobs.isError) return <ErrorBox error={jobs.error} retry={() => void jobs.refetch()} />;
  return (
    <section>
      <h1>My jobs</h1>
      {jobs.data.length === 0 ? (
        <Empty>
          <p>
            You have not posted a job yet. <Link to="/new">Fine-tune a model</Link>.
          </p>
        </Empty>
      ) : (
        <div className="table-wrap">
          <table className="list">
            <thead>
              <tr>
                <th>Job</th>
                <th>Base model</th>
                <th>Datanets</th>
                <th>Budget</th>
                <th>Posted</th>
                <th>Status</th>
                <th>Model</th>
              </tr>
            </thead>
            <tbody>
              {jobs.data.map((j) => (
                <tr key={j.id}>
                  <td>
                    <Link to={`/jobs/${j.jobId}`}>#{j.jobId}</Link>
                  </td>
                  <td>{j.baseModel.name}</td>
                  <td>{j.datanets.map((d) => `#${d.id}`).join(", ")}</td>
                  <td>{formatOpen(j.budget)}</td>
                  <td>{formatTime(j.postedAt)}</td>
                  <td>
                    <span className={`badge status-${j.status.toLowerCase()}`}>{j.status}</span>
                  </td>
                  <td>
                    {j.model ? (
                      <Link to={`/chat/model-${j.model.tokenId}`}>model-{j.model.tokenId}</Link>
                    ) : (
                      "—"
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
