/**
 * A drop-in for cAdvisor: a real Prometheus (tests/support/prometheus_server.ts) scrapes the exporter, reading the
 * cgroup files as a container deployment does (tests/support/cgroup_exporter.ts), as the job `cadvisor`, while
 * three containers run: one busy under a CPU quota (`--cpus 0.5`), one under a memory limit (`--memory 64m`,
 * labelled as dockprom labels its own services, with a health check) and one on the host's network (binding
 * nothing). Then it evaluates the `container_*` queries of three widely used public cAdvisor clients, each reduced
 * to its data part, and every one must return data.
 *
 * The clients, as read (with the search tool's mirror) at these commits:
 * - samber/awesome-prometheus-alerts a8533189, `_data/rules.yml`: the "Docker containers" rules for google/cAdvisor;
 * - stefanprodan/dockprom 61b72678, `grafana/provisioning/dashboards/docker_containers.json` and
 *   `monitor_services.json` (panel queries) and `prometheus/alert.rules`;
 * - vegasbrianc/prometheus 9f727093, `grafana/provisioning/dashboards/Docker Prometheus Monitoring-1571332751387.json`
 *   and `dashboards/Grafana_Dashboard.json` (panel queries).
 *
 * The data part: what an alert compares with its threshold, what a panel draws. A threshold (`> 80`) and a guard
 * (`and ... > 0`) are dropped, `absent(x)` is `x`, `scalar(x)` is `x` (the query API answers a scalar with no
 * series), a node_exporter divisor (`/ count(node_cpu_seconds_total{mode="user"})`) is dropped, Grafana's `$interval`
 * is `1m`, and dockprom's example container `jenkins` is one of this test's. Each entry keeps the query as published.
 */
import assert from "node:assert/strict";
import { ContainerScope, docker, dockerTestsIgnored, ensureTestImage, waitFor } from "../support/docker.ts";
import { type Exporter, findSamples } from "../support/exporter.ts";
import { startWithCgroupMounts, unshareProblem } from "../support/cgroup_exporter.ts";
import { PrometheusServer, scrapeConfig, type VectorSample } from "../support/prometheus_server.ts";
import { HAVE_PROMTOOL, promtoolCheckMetrics } from "../support/golden.ts";

const dockerIgnored = await dockerTestsIgnored("cadvisor_compat_test.ts");
const mountProblem = dockerIgnored ? undefined : await unshareProblem();
if (mountProblem) console.warn(`cadvisor_compat_test.ts: ignored: ${mountProblem}`);

/** The names of this test's containers, put in place of a client's own example container. */
interface Names {
  busy: string;
  holder: string;
}

/** One query of a client. */
interface ClientQuery {
  client: string;
  /** The query as the client publishes it. */
  published: string;
  /** Its data part, which must return data. */
  data: string | ((names: Names) => string);
  /**
   * Set for a query that selects on labels only the kubelet adds (`container`, `pod`, `namespace`): on a Docker host
   * it returns nothing from cAdvisor too. The data part is evaluated as PromQL; this, its Docker form (`name` for
   * `container`, the kubelet's other labels dropped), must return data.
   */
  docker?: string;
  /** Set for a query of what is not a container (cAdvisor's root cgroup, `id="/"`): evaluated as PromQL only. */
  notAContainer?: string;
}

const AWESOME = "samber/awesome-prometheus-alerts _data/rules.yml";
const DOCKPROM_CONTAINERS = "stefanprodan/dockprom grafana/provisioning/dashboards/docker_containers.json";
const DOCKPROM_SERVICES = "stefanprodan/dockprom grafana/provisioning/dashboards/monitor_services.json";
const DOCKPROM_RULES = "stefanprodan/dockprom prometheus/alert.rules";
const VEGAS_PROVISIONED = "vegasbrianc/prometheus grafana/provisioning/dashboards/Docker Prometheus Monitoring";
const VEGAS_DASHBOARD = "vegasbrianc/prometheus dashboards/Grafana_Dashboard.json";

const CLIENT_QUERIES: readonly ClientQuery[] = [
  // samber/awesome-prometheus-alerts: "Docker containers", google/cAdvisor.
  {
    client: `${AWESOME}: Container killed`,
    published: "time() - container_last_seen > 60",
    data: "time() - container_last_seen",
  },
  {
    client: `${AWESOME}: Container absent`,
    published: "absent(container_last_seen)",
    data: "container_last_seen",
  },
  {
    client: `${AWESOME}: Container High CPU utilization (and Low, same data part)`,
    published:
      '(sum(rate(container_cpu_usage_seconds_total{container!=""}[5m])) by (pod, container) / sum(container_spec_cpu_quota{container!=""}/container_spec_cpu_period{container!=""}) by (pod, container) * 100) > 80 and sum(container_spec_cpu_quota{container!=""}/container_spec_cpu_period{container!=""}) by (pod, container) > 0',
    data:
      '(sum(rate(container_cpu_usage_seconds_total{container!=""}[5m])) by (pod, container) / sum(container_spec_cpu_quota{container!=""}/container_spec_cpu_period{container!=""}) by (pod, container) * 100)',
    docker:
      '(sum(rate(container_cpu_usage_seconds_total{name!=""}[5m])) by (name) / sum(container_spec_cpu_quota{name!=""}/container_spec_cpu_period{name!=""}) by (name) * 100)',
  },
  {
    client: `${AWESOME}: Container high throttle rate`,
    published:
      'sum(rate(container_cpu_cfs_throttled_periods_total{container!=""}[5m])) by (container, pod, namespace) / sum(rate(container_cpu_cfs_periods_total[5m])) by (container, pod, namespace) > ( 25 / 100 ) and sum(rate(container_cpu_cfs_periods_total[5m])) by (container, pod, namespace) > 0',
    data:
      'sum(rate(container_cpu_cfs_throttled_periods_total{container!=""}[5m])) by (container, pod, namespace) / sum(rate(container_cpu_cfs_periods_total[5m])) by (container, pod, namespace)',
    docker:
      'sum(rate(container_cpu_cfs_throttled_periods_total{name!=""}[5m])) by (name) / sum(rate(container_cpu_cfs_periods_total[5m])) by (name)',
  },
  {
    client: `${AWESOME}: Container high low change CPU usage`,
    published:
      '(abs((sum by (instance, name) (rate(container_cpu_usage_seconds_total{name!=""}[1m])) * 100) - (sum by (instance, name) (rate(container_cpu_usage_seconds_total{name!=""}[1m] offset 1m)) * 100)) or abs((sum by (instance, name) (rate(container_cpu_usage_seconds_total{name!=""}[1m])) * 100) - (sum by (instance, name) (rate(container_cpu_usage_seconds_total{name!=""}[5m] offset 1m)) * 100))) > 25',
    data:
      '(abs((sum by (instance, name) (rate(container_cpu_usage_seconds_total{name!=""}[1m])) * 100) - (sum by (instance, name) (rate(container_cpu_usage_seconds_total{name!=""}[1m] offset 1m)) * 100)) or abs((sum by (instance, name) (rate(container_cpu_usage_seconds_total{name!=""}[1m])) * 100) - (sum by (instance, name) (rate(container_cpu_usage_seconds_total{name!=""}[5m] offset 1m)) * 100)))',
  },
  {
    client: `${AWESOME}: Container High Memory usage (and Low, same data part)`,
    published:
      '(sum(container_memory_working_set_bytes{name!=""}) BY (instance, name) / sum(container_spec_memory_limit_bytes > 0) BY (instance, name) * 100) > 80',
    data:
      '(sum(container_memory_working_set_bytes{name!=""}) BY (instance, name) / sum(container_spec_memory_limit_bytes > 0) BY (instance, name) * 100)',
  },
  {
    client: `${AWESOME}: Container Volume usage`,
    published:
      '(1 - (sum(container_fs_inodes_free{name!=""}) BY (instance) / sum(container_fs_inodes_total) BY (instance))) * 100 > 80 and sum(container_fs_inodes_total) BY (instance) > 0',
    data:
      '(1 - (sum(container_fs_inodes_free{name!=""}) BY (instance) / sum(container_fs_inodes_total) BY (instance))) * 100',
  },
  {
    client: `${AWESOME}: Container Unhealthy`,
    published: "container_health_state == 0",
    data: "container_health_state",
  },
  // stefanprodan/dockprom: the Docker Containers dashboard.
  {
    client: `${DOCKPROM_CONTAINERS}: CPU Load`,
    published:
      'sum(rate(container_cpu_user_seconds_total{image!=""}[1m])) / count(node_cpu_seconds_total{mode="user"}) * 100',
    data: 'sum(rate(container_cpu_user_seconds_total{image!=""}[1m]))',
  },
  { client: `${DOCKPROM_CONTAINERS}: CPU Cores`, published: "machine_cpu_cores", data: "machine_cpu_cores" },
  {
    client: `${DOCKPROM_CONTAINERS}: Used Memory`,
    published: 'sum(container_memory_usage_bytes{image!=""})',
    data: 'sum(container_memory_usage_bytes{image!=""})',
  },
  {
    client: `${DOCKPROM_CONTAINERS}: Used Storage`,
    published: "sum(container_fs_usage_bytes)",
    data: "sum(container_fs_usage_bytes)",
  },
  {
    client: `${DOCKPROM_CONTAINERS}: Running Containers`,
    published: 'scalar(count(container_memory_usage_bytes{image!=""}) > 0)',
    data: 'count(container_memory_usage_bytes{image!=""}) > 0',
  },
  {
    client: `${DOCKPROM_CONTAINERS}: Container CPU Usage`,
    published:
      'sum by (name) (rate(container_cpu_usage_seconds_total{image!="",container_label_org_label_schema_group=""}[1m])) / scalar(count(node_cpu_seconds_total{mode="user"})) * 100',
    data:
      'sum by (name) (rate(container_cpu_usage_seconds_total{image!="",container_label_org_label_schema_group=""}[1m]))',
  },
  {
    client: `${DOCKPROM_CONTAINERS}: Container Memory Usage`,
    published: 'sum by (name)(container_memory_usage_bytes{image!="",container_label_org_label_schema_group=""})',
    data: 'sum by (name)(container_memory_usage_bytes{image!="",container_label_org_label_schema_group=""})',
  },
  {
    client: `${DOCKPROM_CONTAINERS}: Container Cached Memory Usage`,
    published: 'sum by (name) (container_memory_cache{image!="",container_label_org_label_schema_group=""})',
    data: 'sum by (name) (container_memory_cache{image!="",container_label_org_label_schema_group=""})',
  },
  {
    client: `${DOCKPROM_CONTAINERS}: Container Network Input`,
    published:
      'sum by (name) (rate(container_network_receive_bytes_total{image!="",container_label_org_label_schema_group=""}[1m]))',
    data:
      'sum by (name) (rate(container_network_receive_bytes_total{image!="",container_label_org_label_schema_group=""}[1m]))',
  },
  {
    client: `${DOCKPROM_CONTAINERS}: Container Network Output`,
    published:
      'sum by (name) (rate(container_network_transmit_bytes_total{image!="",container_label_org_label_schema_group=""}[1m]))',
    data:
      'sum by (name) (rate(container_network_transmit_bytes_total{image!="",container_label_org_label_schema_group=""}[1m]))',
  },
  // stefanprodan/dockprom: the Monitor Services dashboard, on containers labelled org.label-schema.group=monitoring.
  {
    client: `${DOCKPROM_SERVICES}: Memory usage`,
    published: 'sum(container_memory_usage_bytes{container_label_org_label_schema_group="monitoring"})',
    data: 'sum(container_memory_usage_bytes{container_label_org_label_schema_group="monitoring"})',
  },
  {
    client: `${DOCKPROM_SERVICES}: Container CPU usage`,
    published:
      'sum by (name) (rate(container_cpu_user_seconds_total{container_label_org_label_schema_group="monitoring"}[1m]) * 100  / scalar(count(node_cpu_seconds_total{mode="user"})))',
    data:
      'sum by (name) (rate(container_cpu_user_seconds_total{container_label_org_label_schema_group="monitoring"}[1m]) * 100)',
  },
  {
    client: `${DOCKPROM_SERVICES}: Container memory usage`,
    published: 'sum by (name) (container_memory_usage_bytes{container_label_org_label_schema_group="monitoring"})',
    data: 'sum by (name) (container_memory_usage_bytes{container_label_org_label_schema_group="monitoring"})',
  },
  // stefanprodan/dockprom: the alert rules on its example container jenkins.
  {
    client: `${DOCKPROM_RULES}: jenkins_down`,
    published: 'absent(container_memory_usage_bytes{name="jenkins"})',
    data: ({ holder }) => `container_memory_usage_bytes{name="${holder}"}`,
  },
  {
    client: `${DOCKPROM_RULES}: jenkins_high_cpu`,
    published:
      'sum(rate(container_cpu_usage_seconds_total{name="jenkins"}[1m])) / count(node_cpu_seconds_total{mode="system"}) * 100 > 10',
    data: ({ busy }) => `sum(rate(container_cpu_usage_seconds_total{name="${busy}"}[1m]))`,
  },
  {
    client: `${DOCKPROM_RULES}: jenkins_high_memory`,
    published: 'sum(container_memory_usage_bytes{name="jenkins"}) > 1200000000',
    data: ({ holder }) => `sum(container_memory_usage_bytes{name="${holder}"})`,
  },
  // vegasbrianc/prometheus: the Docker Prometheus Monitoring dashboard it provisions.
  {
    client: `${VEGAS_PROVISIONED}: Containers`,
    published: 'count(rate(container_last_seen{job="cadvisor", name!=""}[5m]))',
    data: 'count(rate(container_last_seen{job="cadvisor", name!=""}[5m]))',
  },
  {
    client: `${VEGAS_PROVISIONED}: Network Traffic (received)`,
    published: 'sum(rate(container_network_receive_bytes_total{id="/"}[$interval])) by (id)',
    data: 'sum(rate(container_network_receive_bytes_total{id="/"}[1m])) by (id)',
    notAContainer: "cAdvisor's root cgroup (id=\"/\"), the whole host: node_exporter's node_network_* has it",
  },
  {
    client: `${VEGAS_PROVISIONED}: Network Traffic (sent)`,
    published: '- sum(rate(container_network_transmit_bytes_total{id="/"}[$interval])) by (id)',
    data: '- sum(rate(container_network_transmit_bytes_total{id="/"}[1m])) by (id)',
    notAContainer: "cAdvisor's root cgroup (id=\"/\"), the whole host: node_exporter's node_network_* has it",
  },
  {
    client: `${VEGAS_PROVISIONED}: Container CPU Usage`,
    published: 'sum(rate(container_cpu_usage_seconds_total{image!=""}[1m])) by (id,name)',
    data: 'sum(rate(container_cpu_usage_seconds_total{image!=""}[1m])) by (id,name)',
  },
  {
    client: `${VEGAS_PROVISIONED}: Container Memory Usage`,
    published: 'container_memory_max_usage_bytes{image!=""}',
    data: 'container_memory_max_usage_bytes{image!=""}',
  },
  {
    client: `${VEGAS_PROVISIONED}: Container Network Input`,
    published: 'sort_desc(sum by (name) (rate(container_network_receive_bytes_total{image!=""}[1m] ) ))',
    data: 'sort_desc(sum by (name) (rate(container_network_receive_bytes_total{image!=""}[1m] ) ))',
  },
  {
    client: `${VEGAS_PROVISIONED}: Container Network Output`,
    published: 'sort_desc(sum by (name) (rate(container_network_transmit_bytes_total{image!=""}[1m] ) ))',
    data: 'sort_desc(sum by (name) (rate(container_network_transmit_bytes_total{image!=""}[1m] ) ))',
  },
  // vegasbrianc/prometheus: its older Grafana dashboard (cAdvisor's label was container_name then; grouping by a
  // label no series has makes one group, as it does on today's cAdvisor).
  {
    client: `${VEGAS_DASHBOARD}: CPU usage`,
    published:
      'sum(sum by (container_name)( rate(container_cpu_usage_seconds_total{image!=""}[1m] ) )) / count(node_cpu{mode="system"}) * 100',
    data: 'sum(sum by (container_name)( rate(container_cpu_usage_seconds_total{image!=""}[1m] ) ))',
  },
  {
    client: `${VEGAS_DASHBOARD}: Free storage`,
    published: "sum (container_fs_limit_bytes - container_fs_usage_bytes) / sum(container_fs_limit_bytes)",
    data: "sum (container_fs_limit_bytes - container_fs_usage_bytes) / sum(container_fs_limit_bytes)",
  },
  {
    client: `${VEGAS_DASHBOARD}: Container CPU`,
    published: 'sort_desc(sum(container_cpu_user_seconds_total{image!=""}) by (name))',
    data: 'sort_desc(sum(container_cpu_user_seconds_total{image!=""}) by (name))',
  },
  {
    client: `${VEGAS_DASHBOARD}: Container Memory`,
    published: 'sort_desc(sum(container_memory_usage_bytes{image!=""}) by (name))',
    data: 'sort_desc(sum(container_memory_usage_bytes{image!=""}) by (name))',
  },
  {
    client: `${VEGAS_DASHBOARD}: Network received`,
    published: 'sum by (container_name) (rate(container_network_receive_bytes_total{image!=""}[1m] ) )',
    data: 'sum by (container_name) (rate(container_network_receive_bytes_total{image!=""}[1m] ) )',
  },
  {
    client: `${VEGAS_DASHBOARD}: Network sent`,
    published: 'sum by (container_name) (rate(container_network_transmit_bytes_total{image!=""}[1m] ) )',
    data: 'sum by (container_name) (rate(container_network_transmit_bytes_total{image!=""}[1m] ) )',
  },
];

/** The containers of the test and the exporter reading them. */
interface Setup {
  scope: ContainerScope;
  exporter: Exporter;
  names: Names & { hostnet: string };
  ids: { busy: string; holder: string; hostnet: string };
}

async function start(mounts: string): Promise<Setup> {
  await ensureTestImage();
  const scope = new ContainerScope("cadvisor");
  const sleep = "trap 'exit 0' TERM; sleep 600 & wait";
  const [busy, holder, hostnet] = await Promise.all([
    scope.run({ name: "busy", flags: ["--cpus", "0.5"], command: ["sh", "-c", "while :; do :; done"] }),
    scope.run({
      name: "holder",
      labels: { "org.label-schema.group": "monitoring" },
      flags: ["--memory", "64m", "--health-cmd", "true", "--health-interval", "1s"],
      // A shell variable of 20 MB: anonymous memory held until the container stops.
      command: ["sh", "-c", `x=$(head -c 20000000 /dev/zero | tr '\\0' a); ${sleep}`],
    }),
    scope.run({
      name: "hostnet",
      network: "host",
      // Binds nothing: a refused connection to 127.0.0.1 every second is its traffic.
      command: ["sh", "-c", "trap 'exit 0' TERM; while :; do nc 127.0.0.1 9 </dev/null; sleep 1; done"],
    }),
  ]);
  try {
    const exporter = await startWithCgroupMounts(mounts, {
      EXPORTER_RESOURCE_METRICS: "cgroup",
      EXPORTER_RESOURCE_INTERVAL: "1s",
      EXPORTER_CONTAINER_LABELS: "org.label-schema.group",
      EXPORTER_CONTAINER_LABELS_ON_ALL_SERIES: "true",
    });
    return {
      scope,
      exporter,
      names: { busy: busy.name, holder: holder.name, hostnet: hostnet.name },
      ids: { busy: busy.id, holder: holder.id, hostnet: hostnet.id },
    };
  } catch (error) {
    await scope.cleanup();
    throw error;
  }
}

/** The `name` labels of a result. */
const namesIn = (result: VectorSample[]) => result.map((r) => r.metric.name).filter((n) => n !== undefined).sort();

Deno.test({
  name: "cAdvisor's clients: a real Prometheus scraping the exporter as `cadvisor` answers their container queries",
  ignore: dockerIgnored || mountProblem !== undefined,
  async fn(t) {
    const mounts = await Deno.makeTempDir({ prefix: "dexp-cadvisor-mounts-" });
    const setup = await start(mounts);
    const { scope, exporter, names } = setup;
    try {
      await using prometheus = await PrometheusServer.start(
        // `cadvisor`: the job name the clients' queries expect (vegasbrianc's select job="cadvisor").
        scrapeConfig(`127.0.0.1:${exporter.port}`, "cadvisor"),
      );
      // The data parts with `offset 1m` need samples from a minute ago and more: this waits that long.
      await waitFor(
        async () =>
          (await prometheus.query(
            `rate(container_cpu_usage_seconds_total{name="${names.busy}"}[1m] offset 1m)`,
          )).length > 0,
        180_000,
        "a minute of the busy container's samples in Prometheus",
        1000,
      );

      await t.step("every query, as published and as its data part, is valid PromQL", async () => {
        for (const q of CLIENT_QUERIES) {
          for (const query of [q.published.replaceAll("$interval", "1m"), dataOf(q, names), q.docker]) {
            // Through the API as it is, for a published query may answer a scalar rather than series.
            if (query !== undefined) await prometheus.api(`query?query=${encodeURIComponent(query)}`);
          }
        }
      });

      for (const q of CLIENT_QUERIES) {
        const query = q.docker ?? dataOf(q, names);
        await t.step({
          name: `${q.client}${q.docker ? " (its Docker form)" : ""}: ${query}`,
          // Not a container: cAdvisor's root cgroup is the host, which the exporter does not export.
          ignore: q.notAContainer !== undefined,
          fn: async () => {
            const result = await waitFor(
              async () => {
                const answer = await prometheus.query(query);
                return answer.length > 0 && answer;
              },
              15_000,
              `data for ${query}`,
              500,
            );
            assert.ok(result.length > 0);
          },
        });
      }

      await t.step("the CPU and memory queries find the containers they are about", async () => {
        const cpu = await prometheus.query(named("Container High CPU utilization").docker!);
        assert.deepEqual(namesIn(cpu), [names.busy], "only the container with a quota has a CPU utilization");
        assert.ok(Number(cpu[0].value[1]) > 0);
        const memory = await prometheus.query(dataOf(named("Container High Memory usage"), names));
        assert.deepEqual(namesIn(memory), [names.holder], "only the container with a limit has a memory ratio");
        const monitoring = await prometheus.query(dataOf(named(`${DOCKPROM_SERVICES}: Container memory`), names));
        assert.deepEqual(namesIn(monitoring), [names.holder], "selected by its container label, on every series");
        const others = await prometheus.query(dataOf(named(`${DOCKPROM_CONTAINERS}: Container Memory`), names));
        assert.ok(!namesIn(others).includes(names.holder), "the labelled container is not among the others");
        assert.ok(namesIn(others).includes(names.busy));
        const health = await prometheus.query(`container_health_state{name="${names.holder}"}`);
        assert.deepEqual(health.map((r) => r.value[1]), ["1"]);
      });

      await t.step("a container that stops keeps container_last_seen, so 'Container killed' can fire", async () => {
        await docker("stop", "--time", "1", setup.ids.hostnet);
        // Gone from the resource families at once, kept in container_last_seen, frozen at when it was last read.
        const samples = await waitFor(
          async () => {
            const s = await exporter.samples();
            return findSamples(s, "container_memory_usage_bytes", { id: setup.ids.hostnet }).length === 0 && s;
          },
          15_000,
          "the stopped container to leave the resource families",
        );
        assert.equal(findSamples(samples, "container_last_seen", { id: setup.ids.hostnet }).length, 1);
        const killed = await waitFor(
          async () => {
            const answer = await prometheus.query(`time() - container_last_seen{name="${names.hostnet}"}`);
            return answer.length > 0 && answer;
          },
          15_000,
          "the stopped container's container_last_seen in Prometheus",
        );
        assert.ok(Number(killed[0].value[1]) >= 0);
      });

      await t.step({
        name: "the whole scrape, every series carrying the container label, passes promtool check metrics",
        ignore: !HAVE_PROMTOOL,
        fn: async () => {
          const { code, output } = await promtoolCheckMetrics(await exporter.scrape());
          assert.equal(output, "");
          assert.equal(code, 0);
        },
      });

      await prometheus.stop();
      await exporter.stop();
      assert.ok(!exporter.stderr.includes('"level":"error"'), exporter.stderr);
    } finally {
      await exporter.kill();
      await scope.cleanup();
      await Deno.remove(mounts, { recursive: true });
    }
  },
});

/** The one query whose client (source and panel or rule) contains `client`. */
function named(client: string): ClientQuery {
  const found = CLIENT_QUERIES.filter((q) => q.client.includes(client));
  assert.equal(found.length, 1, client);
  return found[0];
}

function dataOf(q: ClientQuery, names: Names): string {
  return typeof q.data === "string" ? q.data : q.data(names);
}
