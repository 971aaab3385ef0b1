/**
 * The harness's own Blob Storage client pieces: the Shared Key signature it signs Azurite requests with
 * (compared with the one azure-storage-blob 12.31.1's SharedKeyCredentialPolicy computes for the same
 * requests) and the wasbs:// URIs it reads out of the synthesized commands.
 */
import { wasbsUris } from "./azure";
import { sharedKey } from "./services/azurite";

const KEY = Buffer.from(Array.from({ length: 64 }, (_, i) => i)).toString("base64");
const headers = { "x-ms-date": "Mon, 07 Dec 2026 09:00:00 GMT", "x-ms-version": "2025-01-05" };

describe("Shared Key signature (as azure-storage-blob signs)", () => {
  it("a listing with a prefix (query parameters sorted, values decoded)", () => {
    const url = new URL("http://127.0.0.1:10000/acct1/mlflow?restype=container&comp=list&prefix=mlartifacts%2F1%2F");
    expect(sharedKey("acct1", KEY, { method: "GET", url, headers })).toBe("SharedKey acct1:Xcelxmx7bY4QmcMPs5FBMdMj+LuFuq/ThZrph/lJTlc=");
  });
  it("a container creation", () => {
    const url = new URL("http://127.0.0.1:10000/acct1/mlflow?restype=container");
    expect(sharedKey("acct1", KEY, { method: "PUT", url, headers })).toBe("SharedKey acct1:wEFn1DKhguLhaxx7gLmLbA1he7UkyjJ5q+OHHIxRzFI=");
  });
});

describe("wasbsUris", () => {
  it("reads container, account and prefix from arguments and environment values", () => {
    const p = {
      argv: ["mlflow", "server", "--artifacts-destination", "wasbs://mlflow@mlflowdevsa.blob.core.windows.net/mlartifacts/"],
      env: { OTHER: "x", DEST: "wasbs://c2@acct2.blob.core.windows.net" },
    };
    expect(wasbsUris(p)).toEqual([
      { container: "mlflow", account: "mlflowdevsa", prefix: "mlartifacts" },
      { container: "c2", account: "acct2", prefix: "" },
    ]);
  });
  it("ignores other schemes and clouds", () => {
    expect(wasbsUris({ argv: ["gs://b/p", "s3://b/p", "wasbs://c@a.blob.core.chinacloudapi.cn/p"], env: {} })).toEqual([]);
  });
});
