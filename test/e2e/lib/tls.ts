/**
 * The public hostname's certificate for the load balancer stand-in: self-signed, for that name only
 * (subjectAltName DNS:<hostname>), a day long, made with openssl. In AWS the ALB serves the ACM
 * certificate `ingress.certificateArn` names.
 */
import { X509Certificate, createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { TlsKeyPair } from "./forwarder";
import { runSync } from "./processes";

export interface PublicCertificate extends TlsKeyPair {
  readonly hostname: string;
  /** PEM file of the certificate (kept in the run directory). */
  readonly certFile: string;
  /**
   * base64 SHA-256 of the certificate's SubjectPublicKeyInfo: what Chromium's
   * `--ignore-certificate-errors-spki-list` pins, trusting this key and no other.
   */
  readonly spkiSha256: string;
}

export function selfSignedCertificate(dir: string, hostname: string): PublicCertificate {
  fs.mkdirSync(dir, { recursive: true });
  const certFile = path.join(dir, `${hostname}.crt`);
  const keyFile = path.join(dir, `${hostname}.key`);
  runSync([
    "openssl",
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "1",
    "-subj",
    `/CN=${hostname}`,
    "-addext",
    `subjectAltName=DNS:${hostname}`,
    "-keyout",
    keyFile,
    "-out",
    certFile,
  ]);
  fs.chmodSync(keyFile, 0o600);
  const cert = fs.readFileSync(certFile, "utf8");
  const spki = new X509Certificate(cert).publicKey.export({ type: "spki", format: "der" });
  return {
    hostname,
    certFile,
    cert,
    key: fs.readFileSync(keyFile, "utf8"),
    spkiSha256: createHash("sha256").update(spki).digest("base64"),
  };
}
