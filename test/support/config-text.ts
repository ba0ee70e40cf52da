/** The smallest valid gateway config, as text, for config-loader tests that append a section to it. */
export const BASE = `zones: zones
policies: policies
dns:
  wan:
    listen:
      - { address: 100.64.1.130, port: 53 }
pool:
  serviceAddress: 100.64.1.130
  addresses: [100.64.1.131-100.64.1.133]
`;
