/**
 * GraphQL subscriptions over Server-Sent Events as graphql-yoga serves them, with fetch (an
 * EventSource cannot send the Authorization header): one POST per subscription, Accept
 * text/event-stream, each `data:` event one execution result.
 */
export interface SseSink {
  next(value: unknown): void;
  error(err: unknown): void;
  complete(): void;
}

export function subscribeSse(url: string, headers: Record<string, string>, body: unknown, sink: SseSink): () => void {
  const controller = new AbortController();
  (async () => {
    const res = await fetch(url, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!res.ok || !res.body) throw new Error(`subscription refused: HTTP ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data: string[] = [];
        for (const line of event.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        if (name === "complete") {
          sink.complete();
          return;
        }
        if (data.length > 0) sink.next(JSON.parse(data.join("\n")));
      }
    }
    sink.complete();
  })().catch((err: unknown) => {
    if (!controller.signal.aborted) sink.error(err);
  });
  return () => controller.abort();
}
