/** The exporter's release version, printed by `--version` and served in `docker_exporter_build_info`. */
export const VERSION = "0.1.0";
