import { useState, type FormEvent } from "react";
import { useMutation, useQuery } from "urql";
import type { TenantInfo } from "../App";
import { Empty, ErrorBox, Loading } from "../components/State";
import { dateTime } from "../format";
import { errorText } from "../graphql";
import { useSession } from "../session";
import { DeliveryLog } from "./WebhookDeliveries";

interface Endpoint {
  id: string;
  url: string;
  eventTypes: string[];
  createdAt: string;
  rotatedAt: string | null;
}

const ENDPOINTS = `query Endpoints { webhookEndpoints { id url eventTypes createdAt rotatedAt } }`;
const CREATE = `mutation Create($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id url eventTypes createdAt rotatedAt } } }`;
const ROTATE = `mutation Rotate($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { id url eventTypes createdAt rotatedAt } } }`;
const DELETE = `mutation Delete($id: ID!) { deleteWebhookEndpoint(id: $id) }`;

/** Webhook endpoints for operators: create (secret shown once), rotate, delete; the delivery log with redelivery of dead letters. */
export function WebhooksPage({ tenant }: { tenant: TenantInfo }) {
  const { config } = useSession();
  const [{ data, fetching, error }, refetch] = useQuery<{ webhookEndpoints: Endpoint[] }>({ query: ENDPOINTS });
  const [created, create] = useMutation(CREATE);
  const [, rotate] = useMutation(ROTATE);
  const [, remove] = useMutation(DELETE);
  const [secret, setSecret] = useState<{ url: string; secret: string; why: string }>();
  const [actionError, setActionError] = useState<string>();
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState<string[]>(() => [...config.webhookEventTypes]);
  const reload = () => refetch({ requestPolicy: "network-only" });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setActionError(undefined);
    const r = await create({ input: { url: url.trim(), eventTypes: types } });
    if (r.error) return setActionError(errorText(r.error));
    const out = r.data.createWebhookEndpoint as { secret: string; endpoint: Endpoint };
    setSecret({ url: out.endpoint.url, secret: out.secret, why: "created" });
    setUrl("");
    reload();
  };
  const onRotate = async (ep: Endpoint) => {
    setActionError(undefined);
    const r = await rotate({ id: ep.id });
    if (r.error) return setActionError(errorText(r.error));
    setSecret({ url: ep.url, secret: (r.data.rotateWebhookSecret as { secret: string }).secret, why: "rotated" });
    reload();
  };
  const onDelete = async (ep: Endpoint) => {
    if (!window.confirm(`Delete the endpoint ${ep.url}? Deliveries to it stop.`)) return;
    setActionError(undefined);
    const r = await remove({ id: ep.id });
    if (r.error) return setActionError(errorText(r.error));
    reload();
  };

  return (
    <section>
      <h1 tabIndex={-1}>Webhooks</h1>
      <p className="hint">Signed with Standard Webhooks headers. Tenant {tenant.slug}.</p>
      {secret && (
        <div className="secret" role="alert" data-testid="webhook-secret">
          <h2>Signing secret for {secret.url} ({secret.why})</h2>
          <p>Copy it now: it is shown only this once, and never stored in this browser.</p>
          <output className="mono">{secret.secret}</output>
          <button type="button" onClick={() => setSecret(undefined)}>
            I have stored it
          </button>
        </div>
      )}
      {actionError && <ErrorBox title="The API refused" message={actionError} />}
      <form className="controls stacked" onSubmit={(e) => void submit(e)} aria-label="New endpoint">
        <h2>New endpoint</h2>
        <label>
          URL (public https)
          <input type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://hooks.example.com/meterline" />
        </label>
        <fieldset>
          <legend>Events</legend>
          {config.webhookEventTypes.map((t) => (
            <label key={t} className="radio">
              <input type="checkbox" checked={types.includes(t)} onChange={(e) => setTypes((s) => (e.target.checked ? [...s, t] : s.filter((x) => x !== t)))} />
              {t}
            </label>
          ))}
        </fieldset>
        <button type="submit" className="primary" disabled={created.fetching || types.length === 0}>
          Create endpoint
        </button>
      </form>
      <h2>Endpoints</h2>
      {error && <ErrorBox title="Cannot load endpoints" message={errorText(error)} retry={reload} />}
      {fetching && !data && <Loading what="endpoints" />}
      {data && data.webhookEndpoints.length === 0 && <Empty>No endpoints yet.</Empty>}
      {data && data.webhookEndpoints.length > 0 && (
        <table className="data" data-testid="endpoints">
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Events</th>
              <th scope="col">Created</th>
              <th scope="col">Secret rotated</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {data.webhookEndpoints.map((ep) => (
              <tr key={ep.id}>
                <td className="mono">{ep.url}</td>
                <td>{ep.eventTypes.join(", ")}</td>
                <td>{dateTime(ep.createdAt, tenant.timeZone)}</td>
                <td>{ep.rotatedAt ? dateTime(ep.rotatedAt, tenant.timeZone) : "never"}</td>
                <td className="actions">
                  <button type="button" onClick={() => void onRotate(ep)} aria-label={`Rotate the secret of ${ep.url}`}>
                    Rotate secret
                  </button>
                  <button type="button" className="danger" onClick={() => void onDelete(ep)} aria-label={`Delete ${ep.url}`}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <DeliveryLog key={(data?.webhookEndpoints ?? []).map((ep) => ep.id).join(",")} tenant={tenant} endpoints={data?.webhookEndpoints ?? []} />
    </section>
  );
}
