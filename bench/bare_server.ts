/**
 * The floor under the scrape figures: `Deno.serve` answering every request with the same bytes, read from a file,
 * with the headers the exporter sends, and nothing else. `bench/run.ts scrape` runs it with the exporter's own
 * gzipped body and points the same in-step client at it, to show how much of a scrape's latency is the exporter's.
 *
 *   deno run --allow-read=FILE --allow-net=127.0.0.1 bench/bare_server.ts FILE CONTENT_TYPE
 *
 * Prints the port it listens on (127.0.0.1 only), then serves until killed.
 */
const [file, contentType] = Deno.args;
if (!file || !contentType) {
  console.error("usage: bare_server.ts FILE CONTENT_TYPE");
  Deno.exit(2);
}
const body = await Deno.readFile(file);
const headers = {
  "Content-Type": contentType,
  "Content-Encoding": "gzip",
  "Content-Length": String(body.length),
  "Cache-Control": "no-store",
  Vary: "Accept, Accept-Encoding",
};
Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(port),
}, () =>
  // Streamed from the one array, as the exporter streams its cached pieces: `new Response(body)` would copy it.
  new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(body);
        controller.close();
      },
    }),
    { headers },
  ));
