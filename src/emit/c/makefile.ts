// Build files shipped with an emitted module: a Makefile producing the static library libpd_<name>.a and an
// equivalent CMakeLists.txt. Both pin the flags the module's exactness relies on (C99, -ffp-contract=off).
import { bannerText } from './banner';
import { cFileNames } from './names';
import type { PlanLayout } from './plan';

/** Makefile: `make` builds libpd_<name>.a from postprocess.c; CC, CFLAGS and AR can be overridden. */
export function emitMakefile(L: PlanLayout): string {
  const lib = `lib${L.names.prefix.slice(0, -1)}.a`;
  const f = cFileNames(L.plan.fileStem);
  return [
    `# ${bannerText(L.plan)}`,
    '# Builds the static library; link your program with it and with -lm.',
    "# -ffp-contract=off keeps a*b+c from becoming a fused multiply-add, so results match prunedet's reference.",
    '# On x86-64 Linux the hot loops also get AVX2/AVX-512 variants picked at load time; add -DPD_PORTABLE to CFLAGS',
    '# for plain C99 only, or a -march for your target to vectorize for its SIMD width.',
    'CC ?= cc',
    'AR ?= ar',
    'CFLAGS ?= -std=c99 -O2 -Wall -Wextra',
    'override CFLAGS += -ffp-contract=off',
    '',
    `LIB := ${lib}`,
    '',
    'all: $(LIB)',
    '',
    `$(LIB): ${f.object}`,
    '\t$(AR) rcs $@ $^',
    '',
    `${f.object}: ${f.source} ${f.header}`,
    `\t$(CC) $(CFLAGS) -c ${f.source} -o $@`,
    '',
    'clean:',
    `\trm -f ${f.object} $(LIB)`,
    '',
    '.PHONY: all clean',
    '',
  ].join('\n');
}

/** CMakeLists.txt: a STATIC library target pd_<name> (file libpd_<name>.a) with its include directory and libm. */
export function emitCMakeLists(L: PlanLayout): string {
  const target = L.names.prefix.slice(0, -1);
  return [
    `# ${bannerText(L.plan)}`,
    'cmake_minimum_required(VERSION 3.15)',
    `project(${target} LANGUAGES C)`,
    '',
    `add_library(${target} STATIC ${cFileNames(L.plan.fileStem).source})`,
    `set_target_properties(${target} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)`,
    `target_include_directories(${target} PUBLIC \${CMAKE_CURRENT_SOURCE_DIR})`,
    "# No fused multiply-add contraction: results then match prunedet's reference exactly.",
    `target_compile_options(${target} PRIVATE $<$<C_COMPILER_ID:GNU,Clang,AppleClang>:-ffp-contract=off>)`,
    'find_library(PD_LIBM m)',
    'if(PD_LIBM)',
    `  target_link_libraries(${target} PUBLIC \${PD_LIBM})`,
    'endif()',
    '',
  ].join('\n');
}
