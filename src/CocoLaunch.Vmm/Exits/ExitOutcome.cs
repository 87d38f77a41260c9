namespace CocoLaunch.Vmm.Exits;

/// <summary>What a handler decided about one exit.</summary>
public abstract record ExitOutcome
{
    /// <summary>Handled; re-enter the guest.</summary>
    public sealed record Resume : ExitOutcome;

    /// <summary>The guest is done (shutdown, halt with nothing to wait for).</summary>
    public sealed record Stop(string Reason) : ExitOutcome;

    /// <summary>The exit cannot be handled; the loop stops and reports <paramref name="Problem"/>.</summary>
    public sealed record Fail(string Problem) : ExitOutcome;

    public static ExitOutcome Continue { get; } = new Resume();
}
