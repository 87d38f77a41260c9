namespace CocoLaunch.Vmm.Devices;

/// <summary>Interrupt request lines as a board wires them (GSI numbers; ISA IRQ n = GSI n).</summary>
public interface IInterruptLines
{
    void SetLevel(int gsi, bool asserted);
}
