using CocoLaunch.Abi;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Igvm;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Cli.Verbs;

/// <summary>
/// The help of <c>launch --stop-after</c>, made from the recipes themselves (<see cref="LaunchRecipe"/>,
/// <see cref="IgvmRecipe"/>) so that it lists the steps each platform's launch really has, in their order. An attribute's
/// text is a constant, so the option names this class as its ResourceType and CommandLineParser reads <see cref="Text"/>.
/// </summary>
public static class StopAfterHelp
{
    public static string Text { get; } = Build();

    /// <summary>Each recipe with the words that say when it runs; platforms with the same steps share one entry.</summary>
    internal static IReadOnlyList<(string Recipe, IReadOnlyList<string> Steps)> Recipes()
    {
        var recipes = new List<(string Recipe, IReadOnlyList<string> Steps)>();
        foreach (var (name, platform) in LaunchSpecParser.Platforms)
        {
            var steps = LaunchRecipe.For(platform).Select(s => s.Name).ToList();
            int same = recipes.FindIndex(r => r.Steps.SequenceEqual(steps));
            if (same >= 0)
            {
                recipes[same] = ($"{recipes[same].Recipe}, {name}", steps);
            }
            else
            {
                recipes.Add((name, steps));
            }
        }

        // A direct-boot SNP kernel adds the local APICs a Linux board needs; IGVM files have recipes of their own.
        recipes.Add(("snp with a kernel", LaunchRecipe.For(KvmVmType.Snp, linux: true).Select(s => s.Name).ToList()));
        foreach (var platform in new[] { KvmVmType.Tdx, KvmVmType.Snp })
        {
            recipes.Add(($"{platform.Name()} from IGVM", IgvmRecipe.For(platform).Select(s => s.Name).ToList()));
        }

        return recipes;
    }

    private static string Build() =>
        "Stop after this step of the launch and print the memslots. The steps, in order: "
        + string.Join("; ", Recipes().Select(r => $"{r.Recipe}: {string.Join(", ", r.Steps)}"))
        + ".";
}
