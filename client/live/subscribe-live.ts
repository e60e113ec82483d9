import type { LIVE_REFUSED_EVENT } from "../../shared/live.js";
import type { LiveChannelEvent, LiveSubscribeOptions } from "./live-channel.js";

/**
 * The public `subscribeLive`: `subscribe` of `live-channel.ts`, loaded with its first call (`import()`),
 * so that the element's own file does not carry the channel for pages that never listen. Same
 * arguments; returns at once the function that stops listening (also before the channel has loaded).
 * Every caller shares the one loaded module, hence one EventSource per URL with the element's own
 * subscriptions. A channel that cannot be loaded (offline) is told to `onEvent` as a refusal with code
 * `stream_closed`, as a stream the browser gave up on would be.
 */
export function subscribeLive(
  eventsUrl: string,
  topicToken: string,
  onEvent: (event: LiveChannelEvent) => void,
  options: LiveSubscribeOptions,
): () => void {
  let stop: (() => void) | undefined;
  let stopped = false;
  import("./live-channel.js").then(
    ({ subscribe }) => {
      if (!stopped) stop = subscribe(eventsUrl, topicToken, onEvent, options);
    },
    () => {
      if (stopped) return;
      const data = { topic: options.topic, code: "stream_closed" as const, message: "The live channel could not be loaded." };
      // The name written out: importing the constant would move shared/live.js into a chunk the element's file imports.
      const event: typeof LIVE_REFUSED_EVENT = "topic-refused";
      onEvent({ topic: options.topic, event, data, version: 0 });
    },
  );
  return () => {
    stopped = true;
    stop?.();
  };
}
