{
  'targets': [
    {
      'target_name': 'modelcdn_native',
      'sources': ['src/addon.c'],
      'defines': ['NAPI_VERSION=8'],
      'cflags': ['-O2', '-fvisibility=hidden', '-Wall', '-Wextra', '-Wno-unused-parameter'],
      'ldflags': ['-Wl,-z,noexecstack', '-Wl,-z,relro'],
      # libbz2 (Debian's libbz2-dev) for bsdiff's bzip2 streams, when its header is there; without it
      # the addon builds anyway and bsdiff uses the JavaScript encoder
      'variables': {'have_bzlib': '<!(test -f /usr/include/bzlib.h && echo 1 || echo 0)'},
      'conditions': [['have_bzlib==1', {'defines': ['HAVE_BZLIB'], 'libraries': ['-lbz2']}]],
    },
  ],
}
