/**
 * The systemd unit that runs a plant unattended. Pure: paths in, unit text out.
 *
 * - Type=notify with a watchdog: plantbridge says READY=1 once the plant runs and feeds the
 *   watchdog while its machines make progress, through `systemd-notify` children (Node cannot send
 *   on a unix datagram socket), hence NotifyAccess=all. See bin/runtime/systemd-notify.ts.
 * - Restart=on-failure: a crash, a kill, a watchdog timeout restart it; a clean stop does not.
 *   Exit code 2 (wrong Node, a usage error) is not retried: a restart cannot fix it.
 * - The pinned Node of the installation, no npm in between: signals reach plantbridge itself; `run`
 *   with the plant's V8 flags (bin/node-flags.ts).
 * - ExecStartPre runs `check`: a bad plant file fails the start with every problem in the journal.
 * - Hardening: no new privileges, no capabilities, the file system read-only except the var folder,
 *   no home directories, private /tmp, kernel and control groups protected. Not set, and why:
 *   MemoryDenyWriteExecute (V8's JIT writes executable memory), PrivateDevices (the embedded
 *   PostgreSQL's shared memory lives in /dev/shm; DevicePolicy=closed is used instead).
 */
import { plantNodeFlags } from "../node-flags.ts";

export interface ServiceUnitOptions {
  /** The unit's name, without `.service`. */
  name: string;
  /** Absolute path of the plant file. */
  plantFile: string;
  plantName: string;
  /** The installation (repository) folder: WorkingDirectory, holds bin/ and node_modules/. */
  installDir: string;
  /** The pinned Node binary (node_modules/.bin/node of the installation). */
  node: string;
  /** The user (and group) the plant runs as. */
  user: string;
  /** Absolute path of the var folder (spool, embedded database, PKI, logs). */
  varDir: string;
  /** Absolute path of the environment file with the plant file's secrets. */
  envFile: string;
  /** WatchdogSec. */
  watchdogS: number;
}

/** `/var/lib/NAME` is systemd's StateDirectory=NAME: created and owned for the service user. */
export function stateDirectoryOf(varDir: string): string | undefined {
  const m = /^\/var\/lib\/([^/]+(?:\/[^/]+)*)$/.exec(varDir);
  return m?.[1];
}

/** systemd's quoting for a command-line word: double quotes when it holds spaces or quotes. */
export function unitWord(word: string): string {
  if (/^[^\s"'\\$%;]+$/.test(word)) return word;
  return `"${word.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("$", "$$").replaceAll("%", "%%")}"`;
}

/** A path that is a whole setting (WorkingDirectory=, EnvironmentFile=): `%` escaped, spaces as they are. */
function unitPath(path: string): string {
  return path.replaceAll("%", "%%");
}

const underHome = (path: string) => /^\/(home|root|run\/user)(\/|$)/.test(path);

export function renderServiceUnit(o: ServiceUnitOptions): string {
  const command = (...words: string[]) => words.map(unitWord).join(" ");
  const script = `${o.installDir}/bin/plantbridge.ts`;
  const state = stateDirectoryOf(o.varDir);
  // A home folder holding the installation, the var folder or the files stays readable.
  const protectHome = [o.installDir, o.varDir, o.plantFile, o.envFile].some(underHome) ? "read-only" : "yes";
  return `# Written by: plantbridge service install ${o.plantFile}
# Change it by running that command again (or with systemctl edit ${o.name}), then: systemctl daemon-reload
[Unit]
Description=plantbridge: plant ${o.plantName} (${o.plantFile})
Documentation=file://${unitPath(o.installDir)}/docs/operations.md
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
NotifyAccess=all
WatchdogSec=${o.watchdogS}
User=${o.user}
Group=${o.user}
WorkingDirectory=${unitPath(o.installDir)}
# The plant file's secrets (\${VAR} placeholders): mode 0600, owned by root.
EnvironmentFile=${unitPath(o.envFile)}
${state !== undefined ? `StateDirectory=${state}\nStateDirectoryMode=0750\n` : ""}ExecStartPre=${command(o.node, script, "check", o.plantFile)}
ExecStart=${command(o.node, ...plantNodeFlags, script, "run", o.plantFile, "--var", o.varDir)}
# SIGTERM to plantbridge only: it stops the embedded PostgreSQL itself, after the final flush.
KillMode=mixed
KillSignal=SIGTERM
TimeoutStartSec=180
TimeoutStopSec=45
Restart=on-failure
RestartSec=5
RestartPreventExitStatus=2

# Hardening
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ReadWritePaths=${unitWord(o.varDir)}
ProtectHome=${protectHome}
PrivateTmp=yes
DevicePolicy=closed
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
ProtectProc=invisible
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
UMask=0027

[Install]
WantedBy=multi-user.target
`;
}
