package io.kubeless.runtime;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collections;

/**
 * Java does not read a PEM CA bundle: this writes the JDK's trusted certificates plus every
 * certificate of the bundle into a PKCS12 truststore for Maven. No dependency on the rest of
 * the runtime, so a build stage runs it as {@code java Truststore.java BUNDLE OUT}.
 */
public final class Truststore {
    public static final String PASSWORD = "changeit";

    private Truststore() {
    }

    public static void main(String[] args) throws Exception {
        int added = write(Path.of(args[0]), Path.of(args[1]));
        System.out.println("truststore " + args[1] + ": the JDK's certificates and " + added
                + " from " + args[0]);
    }

    /** Writes the truststore; returns how many certificates came from the bundle. */
    public static int write(Path bundle, Path out) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, PASSWORD.toCharArray());
        Path cacerts = Path.of(System.getProperty("java.home"), "lib", "security", "cacerts");
        if (Files.isReadable(cacerts)) {
            KeyStore jdk = KeyStore.getInstance(cacerts.toFile(), PASSWORD.toCharArray());
            for (String alias : Collections.list(jdk.aliases())) {
                if (jdk.isCertificateEntry(alias)) {
                    store.setCertificateEntry(alias, jdk.getCertificate(alias));
                }
            }
        }
        int added = 0;
        try (InputStream in = Files.newInputStream(bundle)) {
            for (Certificate certificate
                    : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                store.setCertificateEntry("kubeless-ca-" + added++, certificate);
            }
        }
        Files.createDirectories(out.toAbsolutePath().getParent());
        try (OutputStream file = Files.newOutputStream(out)) {
            store.store(file, PASSWORD.toCharArray());
        }
        return added;
    }
}
