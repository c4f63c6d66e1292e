<?php
// Installation phase of the PHP runtime (the init container): Debian's Composer installs the
// function's composer.json ($KUBELESS_DEPS_FILE, default $KUBELESS_INSTALL_VOLUME/composer.json)
// into $KUBELESS_INSTALL_VOLUME/vendor; the worker loads vendor/autoload.php.
//
// Packagist is not reachable from every cluster: a composer.json names its own repositories
// (a private `composer` repository, or `path` / `artifact` repositories shipped in the
// function's bundle) and may turn Packagist off ({"packagist": false}). The CA bundle mounted by
// the deploy is named by SSL_CERT_FILE, which Composer reads. Composer runs with an argument
// array, never through a shell. Errors go to stderr and to /dev/termination-log
// (KUBELESS_TERMINATION_LOG).

declare(strict_types=1);

const TERMINATION_MESSAGE_MAX = 4000; // Kubernetes keeps at most 4096 bytes

function report(string $message, string $log): void
{
    fwrite(STDERR, "$message\n");
    if (is_writable($log)) {
        file_put_contents($log, substr($message, -TERMINATION_MESSAGE_MAX) . "\n");
    }
}

/** "type url" of each repository composer.json declares, for the error message. */
function repositories(array $composer): array
{
    $found = [];
    foreach ($composer['repositories'] ?? [] as $key => $repo) {
        if (is_array($repo) && isset($repo['type'])) {
            $found[] = trim("{$repo['type']} " . ($repo['url'] ?? ''));
        } elseif ($repo === false || (is_array($repo) && in_array(false, $repo, true))) {
            $found[] = 'Packagist turned off';
        }
    }
    return $found;
}

/** The phase runs as root, the function as uid 1000: every installed file must be readable. */
function make_readable(string $dir): void
{
    if (!is_dir($dir)) {
        return;
    }
    $items = new RecursiveIteratorIterator(new RecursiveDirectoryIterator($dir, FilesystemIterator::SKIP_DOTS),
        RecursiveIteratorIterator::SELF_FIRST);
    foreach ([$dir, ...$items] as $item) {
        $path = (string) $item;
        if (!is_link($path)) {
            chmod($path, (fileperms($path) & 0777) | (is_dir($path) ? 0555 : 0444));
        }
    }
}

function main(): int
{
    $volume = getenv('KUBELESS_INSTALL_VOLUME') ?: '/kubeless';
    $deps = getenv('KUBELESS_DEPS_FILE') ?: "$volume/composer.json";
    $log = getenv('KUBELESS_TERMINATION_LOG') ?: '/dev/termination-log';
    if (!is_file($deps) || trim((string) file_get_contents($deps)) === '') {
        echo "No packages to install ($deps is missing or empty).\n";
        return 0;
    }
    try {
        $composer = json_decode((string) file_get_contents($deps), true, 512, JSON_THROW_ON_ERROR);
    } catch (JsonException $e) {
        report("The dependencies file $deps is not valid JSON ({$e->getMessage()}): give a composer.json "
            . 'with --dependencies.', $log);
        return 2;
    }
    $target = "$volume/composer.json";
    if (realpath($deps) !== realpath($target)) {
        copy($deps, $target);
    }
    $home = sys_get_temp_dir() . '/kubeless-composer-' . getmypid();
    $env = getenv() + ['COMPOSER_HOME' => $home, 'COMPOSER_NO_INTERACTION' => '1',
        'COMPOSER_ALLOW_SUPERUSER' => '1', 'COMPOSER_NO_AUDIT' => '1'];
    echo "Installing the packages of $deps into $volume/vendor\n";
    $process = proc_open(['composer', 'install', '--no-dev', '--no-progress', '--no-interaction',
        '--working-dir', $volume], [0 => ['file', '/dev/null', 'r'], 1 => STDOUT, 2 => ['pipe', 'w']],
        $pipes, $volume, $env);
    $said = '';
    while (!feof($pipes[2])) {
        $chunk = (string) fread($pipes[2], 8192);
        fwrite(STDERR, $chunk);
        $said = substr($said . $chunk, -TERMINATION_MESSAGE_MAX);
    }
    $code = proc_close($process);
    if ($code === 0) {
        make_readable("$volume/vendor");
        return 0;
    }
    $tried = repositories($composer) ?: ['none declared, so Packagist only'];
    report("composer install of $deps failed (exit $code). Repositories tried: " . implode('; ', $tried)
        . '. Name a reachable repository in composer.json ("repositories": a private "composer" '
        . 'repository, or "path" / "artifact" folders shipped in the bundle), and turn Packagist '
        . 'off with {"packagist": false} where it is not reachable. Composer said: '
        . trim(implode("\n", array_slice(explode("\n", trim($said)), -12))), $log);
    return $code ?: 1;
}

exit(main());
