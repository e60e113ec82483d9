import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asyncTempFile } from "../../../server/db/schema";
import { createTestDatabase } from "../../helpers/db";

describe("database", () => {
  let connection: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    connection = await createTestDatabase();
  });
  afterAll(() => connection.close());

  it("applies the migrations and round-trips a temp file row", async () => {
    const id = crypto.randomUUID();
    await connection.db.insert(asyncTempFile).values({
      id, key: `async-temp/x/${id}/a.pdf`, fieldId: "f", principal: "p", originalFilename: "a.pdf",
      contentType: "application/pdf", declaredSize: 6_000_000_000, expiresAt: new Date(Date.now() + 60_000),
    });
    const [row] = await connection.db.select().from(asyncTempFile).where(eq(asyncTempFile.id, id));
    expect(row?.status).toBe("pending");
    expect(row?.declaredSize).toBe(6_000_000_000);
    expect(row?.createdAt).toBeInstanceOf(Date);
  });

  it("refuses an unknown status", async () => {
    const id = crypto.randomUUID();
    await expect(
      connection.db.insert(asyncTempFile).values({
        id, key: `k/${id}`, fieldId: "f", principal: "p", originalFilename: "a", contentType: "a/b",
        declaredSize: 1, expiresAt: new Date(), status: "bogus" as "pending",
      }),
    ).rejects.toThrow();
  });

  it("keeps a chunked upload's upload id and part size set and cleared together", async () => {
    const row = (uploadId: string | null, partSize: number | null) => {
      const id = crypto.randomUUID();
      return connection.db.insert(asyncTempFile).values({
        id, key: `k/${id}`, fieldId: "f", principal: "p", originalFilename: "a", contentType: "a/b",
        declaredSize: 1, expiresAt: new Date(), uploadId, partSize,
      });
    };
    await expect(row("abc", null)).rejects.toThrow();
    await expect(row(null, 5)).rejects.toThrow();
    await expect(row("abc", 0)).rejects.toThrow();
    await row("abc", 5);
    await row(null, null);
  });
});
