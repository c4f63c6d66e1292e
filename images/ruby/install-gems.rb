# frozen_string_literal: true

# Installation phase of the Ruby runtime (the init container): Bundler installs the function's
# Gemfile ($KUBELESS_DEPS_FILE, default $KUBELESS_INSTALL_VOLUME/Gemfile) into
# $KUBELESS_INSTALL_VOLUME/gems, the GEM_HOME the worker uses.
#
# Sources, in order: the gems already here (Debian's, e.g. rack) and the function bundle's
# vendor/cache, with no network (`bundle install --local`); then the Gemfile's own `source`
# lines, through Bundler's mirror setting when one is given (`--env BUNDLE_MIRROR__ALL=URL`
# mirrors every source). The CA bundle mounted by the deploy is named by SSL_CERT_FILE.
# Bundler runs with an argument array, never through a shell. Errors go to stderr and to
# /dev/termination-log (KUBELESS_TERMINATION_LOG).

require 'fileutils'
require 'open3'

TERMINATION_MESSAGE_MAX = 4000 # Kubernetes keeps at most 4096 bytes

def report(message, log)
  warn message
  File.write(log, "#{message[-TERMINATION_MESSAGE_MAX..] || message}\n") if File.writable?(log)
rescue SystemCallError
  nil
end

def bundle(env, *args)
  output, status = Open3.capture2e(env, 'bundle', 'install', *args)
  $stdout.write(output)
  [status.success?, output]
end

def sources(gemfile)
  File.read(gemfile).scan(/^\s*source\s*\(?\s*["']([^"']+)["']/).flatten.uniq
end

def main(env = ENV)
  volume = env.fetch('KUBELESS_INSTALL_VOLUME', '/kubeless')
  deps = env.fetch('KUBELESS_DEPS_FILE', File.join(volume, 'Gemfile'))
  log = env.fetch('KUBELESS_TERMINATION_LOG', '/dev/termination-log')
  unless File.file?(deps) && !File.read(deps).strip.empty?
    puts "No gems to install (#{deps} is missing or empty)."
    return 0
  end
  gemfile = File.join(volume, 'Gemfile')
  FileUtils.cp(deps, gemfile) unless File.expand_path(deps) == File.expand_path(gemfile)
  bundler_env = { 'BUNDLE_GEMFILE' => gemfile, 'GEM_HOME' => File.join(volume, 'gems'),
                  'BUNDLE_SILENCE_ROOT_WARNING' => '1', 'BUNDLE_DISABLE_VERSION_CHECK' => '1' }
  puts "Installing the gems of #{deps} into #{bundler_env['GEM_HOME']}"
  ok, = bundle(bundler_env, '--local')
  unless ok
    puts 'Some gems are neither in the image nor in vendor/cache: fetching them from the ' \
         "Gemfile's sources."
    ok, output = bundle(bundler_env)
  end
  if ok # the phase runs as root, the function as uid 1000: every installed file readable
    FileUtils.chmod_R('a+rX', bundler_env['GEM_HOME']) if Dir.exist?(bundler_env['GEM_HOME'])
    return 0
  end

  cache = File.join(volume, 'vendor', 'cache')
  tried = ["the gems installed in the image (#{Gem::Specification.count} gems)",
           "vendor/cache of the function's bundle (#{Dir.exist?(cache) ? Dir.children(cache).size : 'no'} files)"]
  listed = sources(gemfile)
  tried << "the Gemfile's sources (#{listed.empty? ? 'none' : listed.join(', ')})"
  tried << "the mirror BUNDLE_MIRROR__ALL=#{env['BUNDLE_MIRROR__ALL']}" if env['BUNDLE_MIRROR__ALL']
  report("bundle install of #{deps} failed. Sources tried: #{tried.join('; ')}. Vendor the gem " \
         '(bundle cache, then deploy a zip with vendor/cache), name a reachable source in the ' \
         'Gemfile, or pass --env BUNDLE_MIRROR__ALL=URL. Bundler said: ' \
         "#{output.lines.last(12).join.strip}", log)
  1
end

exit main if $PROGRAM_NAME == __FILE__
