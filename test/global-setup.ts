// vitest's globalSetup runs its files one after the other, and no test file starts before all are done;
// the consumer tests' `npm pack` (~4-6 s) and the Ceph RADOS Gateway (~11-17 s) share nothing, so
// they start side by side here and the run waits for the longer one only.
import type { TestProject } from "vitest/node";
import packForConsumerTests from "./consumer/global-setup";
import startRgwForS3Tests from "./helpers/rgw-global-setup";

type Teardown = () => Promise<void>;

export default async function setup(project: TestProject): Promise<Teardown> {
  const results = await Promise.allSettled([packForConsumerTests(project), startRgwForS3Tests(project)]);
  const teardowns = results.flatMap((result) => (result.status === "fulfilled" && result.value ? [result.value] : []));
  const teardown = async () => {
    await Promise.all(teardowns.map((one) => one()));
  };
  const failed = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
  if (failed) {
    // What did start is stopped before the run reports the failure.
    await teardown();
    throw failed.reason;
  }
  return teardown;
}
