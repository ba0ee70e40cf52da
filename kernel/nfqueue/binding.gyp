# realmgw NFQUEUE addon (plain Node-API, C). Built by the repository's "install" script:
#   node-gyp rebuild --directory kernel/nfqueue   ->   kernel/nfqueue/build/Release/nfqueue.node
# Needs Debian's libnetfilter-queue-dev, libmnl-dev, libnftables-dev and libnftnl-dev (orchestration/install-deps.sh installs them).
{
  "targets": [
    {
      "target_name": "nfqueue",
      "sources": ["src/binding.c", "src/nfq_core.c", "src/netns.c", "src/nft.c", "src/nft_elems.c", "src/process.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "libraries": ["-lnetfilter_queue", "-lmnl", "-lnftables", "-lnftnl"]
    }
  ]
}
