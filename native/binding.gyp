{
  'targets': [
    {
      'target_name': 'modelcdn_native',
      'sources': ['src/addon.c'],
      'defines': ['NAPI_VERSION=8'],
      'cflags': ['-O2', '-fvisibility=hidden', '-Wall', '-Wextra', '-Wno-unused-parameter'],
      'ldflags': ['-Wl,-z,noexecstack', '-Wl,-z,relro'],
    },
  ],
}
