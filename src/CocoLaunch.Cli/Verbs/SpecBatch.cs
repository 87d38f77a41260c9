using System.Runtime.ExceptionServices;
using System.Text;
using System.Text.Json;

namespace CocoLaunch.Cli.Verbs;

/// <summary>
/// A verb over several specs (measure, verify): each spec runs on its own core, and the results are printed in the
/// order given, so that a pipeline's output does not depend on which launch finished first.
/// </summary>
/// <remarks>
/// With one spec the verb runs as it always has. With more, every line a spec writes, on standard output and on
/// standard error, starts with "SPEC: "; in JSON, each spec is one line, {"spec", "exitCode", "result"} or
/// {"spec", "exitCode", "error"}. An error in one spec is that spec's alone: the others still run. The exit code is
/// the worst of theirs (0 ok &lt; 1 check failed &lt; 2 input error &lt; 3 internal error).
/// </remarks>
internal static class SpecBatch
{
    /// <param name="one">Runs the verb on one spec, writing to the writer it is given; returns its exit code.</param>
    public static int Run(IReadOnlyList<string> specs, bool json, bool verbose, TextWriter stdout, TextWriter stderr, Func<string, TextWriter, int> one)
    {
        if (specs.Count == 1)
        {
            return one(specs[0], stdout);
        }

        var outs = new string[specs.Count];
        var errs = new string[specs.Count];
        var codes = new int[specs.Count];
        Parallel.For(0, specs.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            using var o = new StringWriter();
            using var e = new StringWriter();
            codes[i] = CliApp.Guarded(() => one(specs[i], o), e, verbose);
            (outs[i], errs[i]) = (o.ToString(), e.ToString());
        });

        for (int i = 0; i < specs.Count; i++)
        {
            if (json)
            {
                stdout.WriteLine(JsonLine(specs[i], codes[i], outs[i], errs[i]));
                continue;
            }

            // Standard output first, then the spec's errors: each stream keeps its spec's lines together and in order.
            Prefixed(stdout, specs[i], outs[i]);
            ErrorLines(stderr, specs[i], errs[i]);
        }

        return codes.Max();
    }

    /// <summary>Runs <paramref name="build"/> on every spec on all cores; the results in the specs' order, or the first spec's error in that order.</summary>
    public static T[] Map<T>(IReadOnlyList<string> specs, Func<string, T> build)
    {
        var results = new T[specs.Count];
        var errors = new Exception?[specs.Count];
        Parallel.For(0, specs.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            try
            {
                results[i] = build(specs[i]);
            }
            catch (Exception e)
            {
                errors[i] = e;
            }
        });

        // The error a sequential run would have met first, thrown as itself (not an AggregateException) so that it is reported as before.
        if (errors.FirstOrDefault(e => e is not null) is { } first)
        {
            ExceptionDispatchInfo.Throw(first);
        }

        return results;
    }

    private static void Prefixed(TextWriter writer, string spec, string text)
    {
        foreach (string line in text.Split('\n'))
        {
            if (line.Length > 0)
            {
                writer.WriteLine($"{spec}: {line.TrimEnd('\r')}");
            }
        }
    }

    /// <summary>Error lines keep their "cocolaunch: " start, followed by the spec unless the message already begins with it.</summary>
    private static void ErrorLines(TextWriter writer, string spec, string text)
    {
        string tool = CliApp.Name + ": ";
        foreach (string line in text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0))
        {
            string message = line.StartsWith(tool, StringComparison.Ordinal) ? line[tool.Length..] : line;
            writer.WriteLine(message.StartsWith(spec + ":", StringComparison.Ordinal) ? tool + message : $"{tool}{spec}: {message}");
        }
    }

    /// <summary>One spec's JSON document, compacted into one line inside an object that names the spec and its exit code.</summary>
    private static string JsonLine(string spec, int code, string output, string error)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("spec", spec);
            w.WriteNumber("exitCode", code);
            if (output.Trim().Length > 0)
            {
                try
                {
                    using var doc = JsonDocument.Parse(output);
                    w.WritePropertyName("result");
                    doc.WriteTo(w);
                }
                catch (JsonException)
                {
                    w.WriteString("output", output.Trim()); // text before the document (measure --explain): kept, not lost
                }
            }

            if (error.Trim().Length > 0)
            {
                w.WriteString("error", error.Trim());
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
