/**
 * `plantbridge service install FILE [--user NAME] [--root DIR] [--environment-file PATH] [--var DIR] [--name NAME] [--watchdog S]`
 * `plantbridge service uninstall [--root DIR] [--name NAME]`
 *
 * Writes (or removes) the systemd unit that runs the plant (bin/service/systemd-unit.ts), and an
 * environment file template listing the plant file's `${VAR}` placeholders when there is none yet.
 * It runs no systemctl itself: it prints what it wrote and the commands to run next. `--root DIR`
 * writes under DIR instead of `/` (a staging root, a test); paths inside the unit stay the real ones.
 *
 * The option is `--environment-file`, not `--env-file`: Node takes `--env-file` for itself wherever it
 * stands on the command line, also after the script (nodejs/node#54232), and exits with code 9 when
 * that file does not exist yet — the usual case on a first install.
 */
import { existsSync } from "node:fs";
import { chmod, lstat, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { ErrorCode } from "../../lib/errors.ts";
import { checkPlantFile } from "../../schemas/check-plant.ts";
import { ExitCode, parseCommandLine, UsageError } from "../commissioning/command-line.ts";
import { packageRoot } from "../runtime/paths.ts";
import { renderServiceUnit, stateDirectoryOf } from "../service/systemd-unit.ts";

/** A word for the shell, single-quoted when it needs to be. */
const shellWord = (word: string) =>
  /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]*$/;
const USER = /^[a-z_][a-z0-9_-]*\$?$/;

export async function serviceCommand(args: readonly string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action === "install") return install(rest);
  if (action === "uninstall") return uninstall(rest);
  throw new UsageError("say service install FILE or service uninstall");
}

function option(value: string | undefined, fallback: string, pattern: RegExp, what: string): string {
  const v = value ?? fallback;
  if (!pattern.test(v)) throw new UsageError(`${what} "${v}" is not usable`);
  return v;
}

function absolute(path: string, what: string): string {
  if (!isAbsolute(path)) throw new UsageError(`${what} must be an absolute path, got "${path}"`);
  return path;
}

/** `path` under the staging root (`/` for the real system). */
const under = (root: string, path: string) => join(root, path);

async function install(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    user: { type: "string" },
    root: { type: "string" },
    "environment-file": { type: "string" },
    var: { type: "string" },
    name: { type: "string" },
    watchdog: { type: "string" },
  });
  const [file, ...extra] = positionals;
  if (file === undefined) throw new UsageError("name the plant file");
  if (extra.length > 0) throw new UsageError(`one plant file only; extra: ${extra.join(" ")}`);
  const name = option(values.name, "plantbridge", NAME, "--name");
  const user = option(values.user, "plantbridge", USER, "--user");
  if (user === "root") throw new UsageError("run the plant as a user of its own, not root (--user NAME)");
  const watchdogS = Number(values.watchdog ?? 30);
  if (!Number.isInteger(watchdogS) || watchdogS < 5)
    throw new UsageError("--watchdog must be whole seconds, 5 or more");
  const root = resolve(values.root ?? "/");
  const plantFile = resolve(file);
  const varDir = absolute(values.var ?? `/var/lib/${name}`, "--var");
  const envFile = absolute(
    values["environment-file"] ?? `/etc/plantbridge/${name}.env`,
    "--environment-file",
  );
  const node = join(packageRoot, "node_modules", ".bin", "node");
  if (!existsSync(node)) {
    process.stderr.write(`the pinned Node is missing (${node}): run npm ci in ${packageRoot} first\n`);
    return ExitCode.failed;
  }

  // The plant file must be sound; its ${VAR}s may be unset here (they come from the env file).
  const check = await checkPlantFile(plantFile);
  const problems = check.problems.filter(
    (p) => p.code !== ErrorCode.CONFIG_ENV || !/is not set/.test(p.message),
  );
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`${p.describe()}\n`);
    process.stderr.write(`not installed: fix the plant file first (plantbridge check ${plantFile})\n`);
    return ExitCode.failed;
  }

  const unitFile = under(root, `/etc/systemd/system/${name}.service`);
  const replaced = existsSync(unitFile);
  await mkdir(dirname(unitFile), { recursive: true });
  const unit = renderServiceUnit({
    name,
    plantFile,
    plantName: check.plant?.name ?? basename(plantFile),
    installDir: packageRoot,
    node,
    user,
    varDir,
    envFile,
    watchdogS,
  });
  await writeFile(unitFile, unit, { mode: 0o644 });
  // Every variable without a default, whether or not this shell happens to set it.
  const variables = (await checkPlantFile(plantFile, { env: {} })).unset;
  const envWritten = await writeEnvTemplate(under(root, envFile), plantFile, variables);

  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`${replaced ? "replaced" : "wrote"} ${unitFile}`);
  out(
    envWritten
      ? `wrote ${under(root, envFile)} (mode 0600): set ${variables.length > 0 ? variables.join(", ") : "the plant's secrets"} there`
      : `kept ${under(root, envFile)} (it exists)`,
  );
  out("");
  out("next:");
  if (!(await userExists(root, user))) {
    out(`  useradd --system --user-group --home-dir ${varDir} --shell /usr/sbin/nologin ${user}`);
  }
  if (stateDirectoryOf(varDir) === undefined)
    out(`  install -d -o ${user} -g ${user} -m 0750 ${shellWord(varDir)}`);
  out(`  ${"$EDITOR"} ${envFile}`);
  out(`  systemd-analyze verify /etc/systemd/system/${name}.service`);
  out("  systemctl daemon-reload");
  out(`  systemctl enable --now ${name}`);
  out(`  journalctl -u ${name} -f`);
  out("commissioning commands as the service user, on its var folder:");
  out(
    `  sudo -u ${user} --preserve-env ${node} ${packageRoot}/bin/plantbridge.ts read ${plantFile} UNIT.tag --var ${varDir}`,
  );
  return ExitCode.ok;
}

/** A template with the plant file's unset variables, written only when the file does not exist. */
async function writeEnvTemplate(path: string, plantFile: string, names: readonly string[]): Promise<boolean> {
  if (existsSync(path)) return false;
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const lines = [
    `# Environment of the plantbridge service for ${plantFile}: the values of its \${VAR} placeholders.`,
    "# Keep this file mode 0600, owned by root; systemd reads it before starting the service as its user.",
    "# Check the plant with them: set -a; . THIS_FILE; set +a; plantbridge check PLANT_FILE",
    ...names.map((n) => `${n}=`),
  ];
  await writeFile(path, `${lines.join("\n")}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return true;
}

async function userExists(root: string, user: string): Promise<boolean> {
  try {
    const passwd = await readFile(under(root, "/etc/passwd"), "utf8");
    return passwd.split("\n").some((line) => line.split(":")[0] === user);
  } catch {
    return false;
  }
}

async function uninstall(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    root: { type: "string" },
    name: { type: "string" },
  });
  if (positionals.length > 1) throw new UsageError(`unexpected: ${positionals.slice(1).join(" ")}`);
  const name = option(values.name, "plantbridge", NAME, "--name");
  const root = resolve(values.root ?? "/");
  const unitFile = under(root, `/etc/systemd/system/${name}.service`);
  const enabled = under(root, `/etc/systemd/system/multi-user.target.wants/${name}.service`);
  if (
    await lstat(enabled).then(
      () => true,
      () => false,
    )
  ) {
    process.stderr.write(`${name} is enabled: first run  systemctl disable --now ${name}\n`);
    return ExitCode.failed;
  }
  if (!existsSync(unitFile)) {
    process.stderr.write(`no unit ${unitFile}: nothing to remove\n`);
    return ExitCode.failed;
  }
  await rm(unitFile);
  process.stdout.write(
    `removed ${unitFile}\nnext:\n  systemctl daemon-reload\nkept: the environment file (/etc/plantbridge/) and the var folder (spool, database, PKI): remove them yourself when no longer needed\n`,
  );
  return ExitCode.ok;
}
