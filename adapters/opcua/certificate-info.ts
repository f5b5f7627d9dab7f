/**
 * X.509 certificates as a person checks them before trusting one: subject, issuer, SHA-1 and
 * SHA-256 fingerprints, validity, the OPC UA application URI. Node's own X509Certificate reads
 * them; no OPC UA stack is loaded here.
 */
import { X509Certificate } from "node:crypto";

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** `AB:CD:…`, as most PKI tools and PLC web pages show it. */
  sha1: string;
  sha256: string;
  validFrom: Date;
  validTo: Date;
  /** The `URI:` entry of the subject alternative name: the OPC UA application URI. */
  applicationUri?: string;
  dnsNames: string[];
  ipAddresses: string[];
  selfSigned: boolean;
}

/**
 * The certificates of a DER chain, leaf first. OPC UA sends a chain as DER certificates one after
 * the other; each is an ASN.1 SEQUENCE whose header gives its length.
 */
export function splitCertificateChain(der: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  while (offset < der.length) {
    const length = sequenceLength(der, offset);
    if (length === undefined || offset + length > der.length) {
      throw new Error(`not a DER certificate chain (bad ASN.1 header at byte ${offset})`);
    }
    out.push(der.subarray(offset, offset + length));
    offset += length;
  }
  return out;
}

/** Total length (header included) of the ASN.1 SEQUENCE at `offset`. */
function sequenceLength(der: Buffer, offset: number): number | undefined {
  if (der[offset] !== 0x30) return undefined;
  const first = der[offset + 1];
  if (first === undefined) return undefined;
  if (first < 0x80) return 2 + first;
  const bytes = first & 0x7f;
  if (bytes < 1 || bytes > 4 || offset + 2 + bytes > der.length) return undefined;
  let length = 0;
  for (let i = 0; i < bytes; i++) length = length * 256 + (der[offset + 2 + i] ?? 0);
  return 2 + bytes + length;
}

function distinguishedName(text: string): string {
  return text
    .split("\n")
    .filter((part) => part !== "")
    .join(", ");
}

/** Reads one DER (or PEM) certificate. */
export function describeCertificate(certificate: Buffer | string): CertificateInfo {
  const x = new X509Certificate(certificate);
  const altNames = (x.subjectAltName ?? "").split(/,\s*/).filter((n) => n !== "");
  const named = (prefix: string) =>
    altNames.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
  const uri = named("URI:")[0];
  return {
    subject: distinguishedName(x.subject),
    issuer: distinguishedName(x.issuer),
    sha1: x.fingerprint,
    sha256: x.fingerprint256,
    validFrom: new Date(x.validFrom),
    validTo: new Date(x.validTo),
    ...(uri !== undefined ? { applicationUri: uri } : {}),
    dnsNames: named("DNS:"),
    ipAddresses: named("IP Address:"),
    selfSigned: x.checkIssued(x),
  };
}

/** Whole days from `now` until the certificate expires (negative once it has). */
export function daysLeft(info: Pick<CertificateInfo, "validTo">, now: number): number {
  return Math.floor((info.validTo.getTime() - now) / 86_400_000);
}

/** The certificate as lines of `label: value`, for a terminal. */
export function certificateLines(info: CertificateInfo, now: number): string[] {
  const left = daysLeft(info, now);
  const state =
    info.validFrom.getTime() > now
      ? "not valid yet"
      : left < 0
        ? `EXPIRED ${-left} days ago`
        : `valid, ${left} days left`;
  return [
    `subject:          ${info.subject}`,
    `issuer:           ${info.issuer}${info.selfSigned ? " (self-signed)" : ""}`,
    `application URI:  ${info.applicationUri ?? "(none)"}`,
    ...(info.dnsNames.length > 0 || info.ipAddresses.length > 0
      ? [`host names:       ${[...info.dnsNames, ...info.ipAddresses].join(", ")}`]
      : []),
    `valid:            ${info.validFrom.toISOString()} to ${info.validTo.toISOString()} (${state})`,
    `SHA-1:            ${info.sha1}`,
    `SHA-256:          ${info.sha256}`,
  ];
}
