namespace CocoLaunch.Cpu;

/// <summary>The stack: SS-relative, with the stack-address size from SS.B (or 64 in long mode).</summary>
public sealed partial class X86Cpu
{
    private int StackAddressSize => bitness == 64 ? 8 : State.Ss.DefaultBig ? 4 : 2;

    private ulong StackPointer
    {
        get => StackAddressSize switch { 8 => State.Gpr[4], 4 => State.Gpr[4] & 0xFFFF_FFFF, _ => State.Gpr[4] & 0xFFFF };
        set
        {
            switch (StackAddressSize)
            {
                case 8: State.Gpr[4] = value; break;
                case 4: State.Gpr[4] = value & 0xFFFF_FFFF; break;
                default: State.Gpr[4] = (State.Gpr[4] & ~0xFFFFUL) | (value & 0xFFFF); break;
            }
        }
    }

    internal void PushSized(ulong value, int size)
    {
        ulong sp = StackPointer - (ulong)size;
        if (StackAddressSize == 2)
        {
            sp &= 0xFFFF;
        }
        else if (StackAddressSize == 4)
        {
            sp &= 0xFFFF_FFFF;
        }

        Write(SegmentName.Ss, sp, size, value & Mask(size));
        StackPointer = sp;
    }

    internal ulong PopSized(int size)
    {
        ulong sp = StackPointer;
        ulong value = Read(SegmentName.Ss, sp, size);
        StackPointer = sp + (ulong)size;
        return value;
    }

    private void Push16(ushort value) => PushSized(value, 2);

    /// <summary>Reads the 8-byte descriptor for <paramref name="selector"/> from the GDT or LDT (#GP(sel) outside the limit).</summary>
    private ulong ReadDescriptor(ushort selector)
    {
        bool ldt = (selector & 4) != 0;
        ulong tableBase = ldt ? State.Ldtr.Base : State.Gdtr.Base;
        ulong limit = ldt ? State.Ldtr.Limit : State.Gdtr.Limit;
        ulong offset = (ulong)(selector & ~7);
        if (offset + 7 > limit)
        {
            throw GuestFault.Gp((uint)(selector & ~3));
        }

        return AsSupervisor(cpu => cpu.ReadLinear(tableBase + offset, 8));
    }

    private Segment LoadDataDescriptor(ushort selector, bool requireWritable)
    {
        if ((selector & ~3) == 0)
        {
            if (requireWritable && bitness != 64)
            {
                throw GuestFault.Gp();
            }

            return new Segment(selector, 0, 0, 0);
        }

        var s = Segment.FromDescriptor(selector, ReadDescriptor(selector));
        if ((s.Attributes & 0x10) == 0 || (requireWritable && !s.IsWritableData) || (!requireWritable && s.IsCode && (s.Attributes & 2) == 0))
        {
            throw GuestFault.Gp((uint)(selector & ~3));
        }

        if (!s.Present)
        {
            throw new GuestFault(requireWritable ? Vector.StackFault : Vector.SegmentNotPresent, (uint)(selector & ~3));
        }

        return s;
    }

    /// <summary>MOV/POP to a segment register (not CS), in real or protected mode.</summary>
    private void LoadSegment(SegmentName seg, ushort selector)
    {
        ref var s = ref State.Segments[(int)seg];
        if ((State.Cr0 & CpuState.Cr0Pe) == 0)
        {
            s = Segment.RealMode(selector, s);
            return;
        }

        s = LoadDataDescriptor(selector, seg == SegmentName.Ss);
    }

    /// <summary>A far transfer to CS:offset (JMP/CALL far, RETF, IRET), in real or protected mode.</summary>
    /// <param name="rightsBefore">The TLB's access rights before the instruction changed any of them (IRET restores RFLAGS.AC first).</param>
    private void LoadCs(ushort selector, ulong offset, (int Cpl, bool SmapOpen)? rightsBefore = null)
    {
        var rights = rightsBefore ?? AccessRights;
        if ((State.Cr0 & CpuState.Cr0Pe) == 0)
        {
            State.Cs = Segment.RealMode(selector, State.Cs);
            State.Rip = offset & 0xFFFF;
        }
        else
        {
            var target = LoadCodeDescriptor(selector);
            State.Cs = target;
            State.Rip = offset;
        }

        UpdateMode();
        State.Rip &= ipMask;
        FlushTlbIfRightsChanged(rights);
        EndBlock();
    }
}
