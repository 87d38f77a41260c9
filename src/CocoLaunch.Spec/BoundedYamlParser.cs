using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace CocoLaunch.Spec;

/// <summary>
/// YamlDotNet's parser with the limits a launch spec needs, checked on each event before the node model recurses:
/// nesting depth (YamlDotNet builds nodes recursively, and 50,000 opening brackets overflow the stack, which no
/// catch can handle), the number of events, and no aliases (an alias used as a mapping key is hashed once per
/// expansion, so a few lines of nested aliases take exponential time).
/// </summary>
internal sealed class BoundedYamlParser(Scanner scanner, YamlSpecReader reader) : IParser
{
    /// <summary>A spec nests three levels (memory.slots[i].gpa); the bound leaves room for any hand-written one.</summary>
    public const int MaxDepth = 32;

    /// <summary>Far above any spec's node count, far below what a 1 MiB file could make the node model build.</summary>
    public const int MaxEvents = 100_000;

    private readonly Parser inner = new(scanner);
    private int depth;
    private int events;

    public ParsingEvent? Current => inner.Current;

    /// <summary>Where the scanner is: the place to name when YamlDotNet fails with an exception that carries none.</summary>
    public Mark Position => scanner.Current?.End ?? scanner.CurrentPosition;

    public bool MoveNext()
    {
        if (!inner.MoveNext())
        {
            return false;
        }

        var e = inner.Current!;
        if (++events > MaxEvents)
        {
            throw reader.Fail(e.Start, $"the spec has more than {MaxEvents} YAML nodes");
        }

        switch (e)
        {
            case SequenceStart or MappingStart when ++depth > MaxDepth:
                throw reader.Fail(e.Start, $"the spec nests lists and mappings more than {MaxDepth} levels deep");
            case SequenceEnd or MappingEnd:
                depth--;
                break;
            case AnchorAlias alias:
                throw reader.Fail(e.Start, $"YAML aliases (*{alias.Value}) are not supported in a launch spec; write the value out");
        }

        return true;
    }
}
