package io.kubeless.runtime;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Finds the handler {@code Class.method} as Kubeless does: public class
 * {@code io.kubeless.<MOD_NAME>} with a public {@code method(Event, Context)}. Errors name the
 * file, what it defines and the fix, for the termination log.
 */
public final class HandlerLoader {
    public static final String PACKAGE = "io.kubeless";

    private HandlerLoader() {
    }

    /** A handler that could not be found; the message is one actionable paragraph. */
    public static final class LoadError extends Exception {
        public LoadError(String message) {
            super(message);
        }
    }

    /** The handler method, or a {@link LoadError} naming the classes and methods there are. */
    public static Method find(ClassLoader loader, String module, String function, Path classes,
                              String sourceFile) throws LoadError {
        if (module == null || module.isEmpty() || function == null || function.isEmpty()) {
            throw new LoadError("MOD_NAME and FUNC_HANDLER must name the class and the method "
                    + "(deploy with --handler Class.method, e.g. --handler Foo.foo)");
        }
        Class<?> type;
        try {
            type = Class.forName(PACKAGE + "." + module, false, loader);
        } catch (ClassNotFoundException | LinkageError ex) {
            List<String> defined = classesIn(classes);
            throw new LoadError(sourceFile + ": there is no class " + PACKAGE + "." + module
                    + " (the handler " + module + "." + function + " names it); "
                    + (defined.isEmpty() ? "no class in package " + PACKAGE + " was compiled"
                       : "the function defines " + String.join(", ", defined))
                    + ". Fix: declare `package " + PACKAGE + ";` and `public class " + module
                    + "` in the file, or deploy with --handler <ClassName>." + function
                    + (ex instanceof LinkageError ? " (" + ex + ")" : ""));
        }
        if (!Modifier.isPublic(type.getModifiers())) {
            throw new LoadError(sourceFile + ": class " + type.getName() + " is not public. Fix: "
                    + "declare it `public class " + module + "`.");
        }
        for (Method method : type.getMethods()) {
            if (method.getName().equals(function) && isHandler(method)) {
                return method;
            }
        }
        TreeSet<String> methods = new TreeSet<>();
        for (Method method : type.getMethods()) {
            if (method.getDeclaringClass() != Object.class) {
                methods.add(describe(method));
            }
        }
        throw new LoadError(sourceFile + ": class " + type.getName() + " has no public method "
                + function + "(io.kubeless.Event, io.kubeless.Context); its public methods are "
                + (methods.isEmpty() ? "none" : String.join(", ", methods))
                + ". Fix: add `public String " + function
                + "(io.kubeless.Event event, io.kubeless.Context context)` or deploy with "
                + "--handler " + module + ".<method>.");
    }

    static boolean isHandler(Method method) {
        Class<?>[] params = method.getParameterTypes();
        return params.length == 2 && params[0].getName().equals("io.kubeless.Event")
                && params[1].getName().equals("io.kubeless.Context");
    }

    private static String describe(Method method) {
        StringBuilder out = new StringBuilder(method.getName()).append('(');
        Class<?>[] params = method.getParameterTypes();
        for (int i = 0; i < params.length; i++) {
            out.append(i == 0 ? "" : ", ").append(params[i].getSimpleName());
        }
        return out.append(')').toString();
    }

    /** The top-level classes of package io.kubeless in a compiled classes folder. */
    static List<String> classesIn(Path classes) {
        List<String> names = new ArrayList<>();
        if (classes == null) {
            return names;
        }
        Path folder = classes.resolve(PACKAGE.replace('.', '/'));
        if (!Files.isDirectory(folder)) {
            return names;
        }
        try (Stream<Path> files = Files.list(folder)) {
            files.map(p -> p.getFileName().toString())
                 .filter(n -> n.endsWith(".class") && !n.contains("$"))
                 .map(n -> n.substring(0, n.length() - ".class".length()))
                 .sorted()
                 .forEach(names::add);
        } catch (java.io.IOException ex) {
            // the list is a hint; the error stands without it
        }
        return names;
    }
}
